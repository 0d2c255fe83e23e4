package provisioning

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// Defaults of the LimitRange, for containers that set no requests or
// limits of their own, such as sidecars injected by a service mesh. The
// Deployments built here always set their own.
//
// NOTE: such containers still count against the ResourceQuota, which holds
// exactly the workloads' declared resources, so a pod with an injected
// sidecar is rejected unless the workload declares room for it.
var (
	DefaultRequestCPU    = resource.MustParse("100m")
	DefaultRequestMemory = resource.MustParse("128Mi")
	// DefaultLimitMemory caps a container's memory. No CPU limit is set,
	// because CPU limits throttle a container even when the node is idle.
	DefaultLimitMemory = resource.MustParse("256Mi")
)

// BuildShared returns the Namespace, LimitRange and ResourceQuota that the
// given workloads share. Every workload must be in namespace, and the list
// must contain each workload of the namespace placed on the site, because
// the labels and the quota are computed over it:
//
//   - estate.homeoffice.gov.uk/classification is the highest classification;
//   - estate.homeoffice.gov.uk/zone and estate.homeoffice.gov.uk/business-area
//     are the value all workloads share, or "mixed";
//   - the ResourceQuota, named "estate", allows the sum of the workloads'
//     spec.resources as requests.cpu and requests.memory, and the same
//     memory as limits.memory.
//
// A ResourceQuota cannot select pods by label, so the quota is one per
// namespace and not one per workload. Each workload's pods request at most
// its own declared resources (see Build), so the sum is never exceeded.
func BuildShared(namespace string, workloads []estatev1.Workload) (Shared, error) {
	if len(workloads) == 0 {
		return Shared{}, fmt.Errorf("no workloads given for namespace %s: pass at least the workload being provisioned", namespace)
	}

	var (
		highest      estatev1.Classification
		zones        = map[string]bool{}
		areas        = map[string]bool{}
		milliCPU     int64
		memoryBytes  int64
		firstZone    string
		firstArea    string
		seenWorkload = map[string]bool{}
	)
	for i := range workloads {
		w := &workloads[i]
		if w.Namespace != namespace {
			return Shared{}, fmt.Errorf("workload %s/%s is not in namespace %s: pass only the workloads of that namespace", w.Namespace, w.Name, namespace)
		}
		if seenWorkload[w.Name] {
			return Shared{}, fmt.Errorf("workload %s/%s is listed twice: pass each workload once", w.Namespace, w.Name)
		}
		seenWorkload[w.Name] = true

		rank := classificationRank(w.Spec.Classification)
		if rank == 0 {
			return Shared{}, fmt.Errorf("workload %s/%s has classification %q: use OFFICIAL, OFFICIAL-SENSITIVE or SECRET",
				w.Namespace, w.Name, w.Spec.Classification)
		}
		if rank > classificationRank(highest) {
			highest = w.Spec.Classification
		}
		if i == 0 {
			firstZone, firstArea = w.Spec.Zone, w.Spec.Owner.BusinessArea
		}
		zones[w.Spec.Zone] = true
		areas[w.Spec.Owner.BusinessArea] = true
		milliCPU += w.Spec.Resources.CPU.MilliValue()
		memoryBytes += w.Spec.Resources.Memory.Value()
	}

	labels := map[string]string{
		LabelManagedBy:      ManagedByValue,
		LabelClassification: string(highest),
		LabelZone:           singleOrMixed(zones, firstZone),
		LabelBusinessArea:   singleOrMixed(areas, firstArea),
	}
	cpu := resource.NewMilliQuantity(milliCPU, resource.DecimalSI)
	memory := resource.NewQuantity(memoryBytes, resource.BinarySI)

	return Shared{
		Namespace: &corev1.Namespace{
			TypeMeta:   typeMeta("v1", "Namespace"),
			ObjectMeta: objectMeta(namespace, "", labels),
		},
		LimitRange: &corev1.LimitRange{
			TypeMeta:   typeMeta("v1", "LimitRange"),
			ObjectMeta: objectMeta(SharedName, namespace, map[string]string{LabelManagedBy: ManagedByValue}),
			Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
				Type: corev1.LimitTypeContainer,
				DefaultRequest: corev1.ResourceList{
					corev1.ResourceCPU:    DefaultRequestCPU.DeepCopy(),
					corev1.ResourceMemory: DefaultRequestMemory.DeepCopy(),
				},
				Default: corev1.ResourceList{
					corev1.ResourceMemory: DefaultLimitMemory.DeepCopy(),
				},
			}}},
		},
		ResourceQuota: &corev1.ResourceQuota{
			TypeMeta:   typeMeta("v1", "ResourceQuota"),
			ObjectMeta: objectMeta(SharedName, namespace, map[string]string{LabelManagedBy: ManagedByValue}),
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
				corev1.ResourceRequestsCPU:    *cpu,
				corev1.ResourceRequestsMemory: *memory,
				corev1.ResourceLimitsMemory:   memory.DeepCopy(),
			}},
		},
	}, nil
}

// classificationRank orders classifications from 1 (OFFICIAL) to 3
// (SECRET), and returns 0 for any other value.
func classificationRank(c estatev1.Classification) int {
	switch c {
	case estatev1.Official:
		return 1
	case estatev1.OfficialSensitive:
		return 2
	case estatev1.Secret:
		return 3
	}
	return 0
}

func singleOrMixed(values map[string]bool, first string) string {
	if len(values) == 1 {
		return first
	}
	return Mixed
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func objectMeta(name, namespace string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels}
}
