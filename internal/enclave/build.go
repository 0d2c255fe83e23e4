package enclave

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// DefaultZone is the zone of an enclave whose spec leaves it empty, the
// same default the API applies.
const DefaultZone = "enclave"

// QuotaName is the name of the ResourceQuota in every tenant namespace.
const QuotaName = "enclave-tenant-quota"

// EditClusterRole is the built-in ClusterRole that tenant members are bound
// to in their namespaces.
const EditClusterRole = "edit"

// Objects are the objects an enclave needs on each of its sites. Every site
// of an enclave gets the same set.
type Objects struct {
	Namespaces             []corev1.Namespace
	ResourceQuotas         []corev1.ResourceQuota
	RoleBindings           []rbacv1.RoleBinding
	ClusterNetworkPolicies []v1alpha2.ClusterNetworkPolicy
}

// Build returns the objects the enclave needs on each site, in a stable
// order: tenants sorted by department, namespaces and members by name. Every
// object carries LabelEnclave and LabelManagedBy, so the operator can find
// and prune what it wrote before. A spec that the API schema accepts may
// still not fit these objects, and then Build returns an error that names
// the field and the fix.
func Build(e *estatev1.Enclave) (*Objects, error) {
	if err := validate(e); err != nil {
		return nil, err
	}
	tenants := sortedTenants(e)
	zone := Zone(e)

	objects := &Objects{}
	for _, tenant := range tenants {
		namespaces := sortedCopy(tenant.Namespaces)
		quota, err := quotaShare(tenant, len(namespaces))
		if err != nil {
			return nil, err
		}
		for _, ns := range namespaces {
			objects.Namespaces = append(objects.Namespaces, corev1.Namespace{
				TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
				ObjectMeta: metav1.ObjectMeta{
					Name: ns,
					Labels: ownerLabels(e, map[string]string{
						LabelTenant:         tenant.Department,
						LabelClassification: string(estatev1.Secret),
						LabelZone:           zone,
					}),
				},
			})
			if quota != nil {
				objects.ResourceQuotas = append(objects.ResourceQuotas, corev1.ResourceQuota{
					TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
					ObjectMeta: metav1.ObjectMeta{Name: QuotaName, Namespace: ns, Labels: ownerLabels(e, map[string]string{LabelTenant: tenant.Department})},
					Spec:       corev1.ResourceQuotaSpec{Hard: quota},
				})
			}
			for _, group := range sortedCopy(tenant.Members) {
				objects.RoleBindings = append(objects.RoleBindings, memberBinding(e, tenant.Department, ns, group))
			}
		}
	}

	policies, err := buildPolicies(e, tenants)
	if err != nil {
		return nil, err
	}
	objects.ClusterNetworkPolicies = policies
	return objects, nil
}

// Zone returns the enclave's zone, or DefaultZone when the spec leaves it
// empty.
func Zone(e *estatev1.Enclave) string {
	if e.Spec.Zone == "" {
		return DefaultZone
	}
	return e.Spec.Zone
}

// validate rejects what the CRD schema lets through but Build cannot write.
func validate(e *estatev1.Enclave) error {
	if msgs := validation.IsValidLabelValue(e.Name); len(msgs) > 0 {
		return fmt.Errorf("enclave name %q cannot be the value of label %s: %s: rename the enclave", e.Name, LabelEnclave, strings.Join(msgs, "; "))
	}
	if len(e.Spec.Tenants) == 0 {
		return fmt.Errorf("enclave %s has no tenants: add at least one to spec.tenants", e.Name)
	}

	owner := map[string]string{}
	for i, tenant := range e.Spec.Tenants {
		for _, ns := range tenant.Namespaces {
			if other, taken := owner[ns]; taken && other != tenant.Department {
				return fmt.Errorf("spec.tenants[%d].namespaces: namespace %q already belongs to tenant %s: give each tenant its own namespaces", i, ns, other)
			}
			owner[ns] = tenant.Department
		}
		for j, group := range tenant.Members {
			if strings.TrimSpace(group) == "" {
				return fmt.Errorf("spec.tenants[%d].members[%d] is empty: name a group, for example %q", i, j, tenant.Department+"-developers")
			}
		}
	}

	zone := Zone(e)
	for i, flow := range e.Spec.CrossDomainGateway.AllowedFlows {
		if flow.FromZone == zone {
			return fmt.Errorf("spec.crossDomainGateway.allowedFlows[%d].fromZone is the enclave's own zone %q: a gateway flow must come from outside the enclave", i, zone)
		}
		for j, port := range flow.Ports {
			if port.Port == 0 {
				return fmt.Errorf("spec.crossDomainGateway.allowedFlows[%d].ports[%d] names port %q, which a ClusterNetworkPolicy cannot match: give the port number instead", i, j, port.Name)
			}
		}
	}
	return nil
}

// ownerLabels returns extra plus the labels every enclave object carries.
func ownerLabels(e *estatev1.Enclave, extra map[string]string) map[string]string {
	labels := map[string]string{
		LabelEnclave:   e.Name,
		LabelManagedBy: ManagedBy,
	}
	for k, v := range extra {
		labels[k] = v
	}
	return labels
}

// OwnedSelector returns the label selector of every object the enclave's
// operator wrote, as a string for list calls.
func OwnedSelector(e *estatev1.Enclave) string {
	return LabelEnclave + "=" + e.Name + "," + LabelManagedBy + "=" + ManagedBy
}

// quotaShare divides the tenant's quota evenly across its namespaces,
// rounding each share down to a whole millicore and a whole byte so the
// shares never add up to more than the tenant's total. It returns nil when
// the tenant has no quota. The share is set as both the requests and the
// limits quota, so pods must declare CPU and memory limits.
func quotaShare(t estatev1.Tenant, namespaces int) (corev1.ResourceList, error) {
	if t.Quota == nil {
		return nil, nil
	}
	cpuMilli := t.Quota.CPU.MilliValue() / int64(namespaces)
	memoryBytes := t.Quota.Memory.Value() / int64(namespaces)
	if cpuMilli < 1 {
		return nil, fmt.Errorf("tenant %s quota.cpu %s is less than 1m for each of its %d namespaces: raise it to at least %dm", t.Department, t.Quota.CPU.String(), namespaces, namespaces)
	}
	if memoryBytes < 1 {
		return nil, fmt.Errorf("tenant %s quota.memory %s is less than 1 byte for each of its %d namespaces: raise it", t.Department, t.Quota.Memory.String(), namespaces)
	}
	cpu := resource.NewMilliQuantity(cpuMilli, resource.DecimalSI)
	memory := resource.NewQuantity(memoryBytes, resource.BinarySI)
	return corev1.ResourceList{
		corev1.ResourceRequestsCPU:    *cpu,
		corev1.ResourceLimitsCPU:      *cpu,
		corev1.ResourceRequestsMemory: *memory,
		corev1.ResourceLimitsMemory:   *memory,
	}, nil
}

func memberBinding(e *estatev1.Enclave, department, namespace, group string) rbacv1.RoleBinding {
	return rbacv1.RoleBinding{
		TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      RoleBindingName(group),
			Namespace: namespace,
			Labels:    ownerLabels(e, map[string]string{LabelTenant: department}),
		},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: EditClusterRole},
		Subjects: []rbacv1.Subject{{
			APIGroup: rbacv1.GroupName,
			Kind:     rbacv1.GroupKind,
			Name:     group,
		}},
	}
}

var notNameCharacters = regexp.MustCompile(`[^a-z0-9-]+`)

// RoleBindingName returns the name of the RoleBinding that grants group the
// edit role. The name is "enclave-edit-", then the group's name in at most
// 40 lowercase letters, digits and dashes, then 8 hex digits of the SHA-256
// of the group's exact name, so two groups that read alike get two names.
func RoleBindingName(group string) string {
	readable := strings.Trim(notNameCharacters.ReplaceAllString(strings.ToLower(group), "-"), "-")
	if len(readable) > 40 {
		readable = strings.TrimRight(readable[:40], "-")
	}
	sum := sha256.Sum256([]byte(group))
	name := "enclave-edit-"
	if readable != "" {
		name += readable + "-"
	}
	return name + hex.EncodeToString(sum[:4])
}

func sortedTenants(e *estatev1.Enclave) []estatev1.Tenant {
	tenants := slices.Clone(e.Spec.Tenants)
	slices.SortFunc(tenants, func(a, b estatev1.Tenant) int { return strings.Compare(a.Department, b.Department) })
	return tenants
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
