package enclave

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/enclave"
	"github.com/ukhomeoffice/estate/internal/localcp"
)

// The local control plane's inspector checks the test's sites.
var _ SiteInspector = (*localcp.Inspector)(nil)

// secretNamespace holds the kubeconfig Secrets of the test's sites.
const secretNamespace = "estate-system"

func hostingSite(name string, accreditation estatev1.Classification, secret string) *estatev1.HostingSite {
	site := &estatev1.HostingSite{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: estatev1.HostingSiteSpec{
			Tier:          estatev1.TierOnPremises,
			Provider:      "crown-hosting",
			Region:        "corsham",
			Jurisdiction:  "GB",
			Accreditation: accreditation,
			Capacity:      estatev1.SiteCapacity{CPU: resource.MustParse("64"), Memory: resource.MustParse("256Gi"), Workloads: 100},
		},
	}
	if secret != "" {
		site.Spec.Connection = &estatev1.SiteConnection{KubeconfigSecretRef: &estatev1.SecretKeyReference{
			Namespace: secretNamespace, Name: secret, Key: "kubeconfig",
		}}
	}
	return site
}

func newEnclave(name string, sites []string, tenants ...estatev1.Tenant) *estatev1.Enclave {
	return &estatev1.Enclave{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: estatev1.EnclaveSpec{
			Sites:   sites,
			Tenants: tenants,
			CrossDomainGateway: estatev1.CrossDomainGateway{
				Name:         "cds",
				AllowedFlows: []estatev1.GatewayFlow{{FromZone: "official", Ports: []estatev1.FlowPort{{Protocol: "TCP", Port: 443}}}},
			},
			Controls: estatev1.EnclaveControls{NoInternetEgress: true, EncryptionAtRest: true, AuditLogging: true, TenantIsolation: true},
		},
	}
}

// kubeconfigSecret stores a cluster's kubeconfig as a Secret in the
// management cluster.
func kubeconfigSecret(t *testing.T, name string, cluster *localcp.Cluster) {
	t.Helper()
	data, err := os.ReadFile(cluster.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: secretNamespace, Name: name},
		Data:       map[string][]byte{"kubeconfig": data},
	}
	createForTest(t, secret)
}

// createForTest creates obj in the management cluster and deletes it when
// the test ends, so the test can run again in the same envtest.
func createForTest(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
	t.Cleanup(func() {
		if err := k8s.Delete(context.Background(), obj); client.IgnoreNotFound(err) != nil {
			t.Errorf("deleting %T %s: %v", obj, obj.GetName(), err)
		}
	})
}

// clusterClient returns a client of a local cluster for checking what the
// operator wrote there.
func clusterClient(t *testing.T, cluster *localcp.Cluster) client.Client {
	t.Helper()
	data, err := os.ReadFile(cluster.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	config, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(config, client.Options{Scheme: siteScheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls check every 100 ms until it returns true or timeout passes,
// then fails the test with the last description check gave.
func waitFor(t *testing.T, timeout time.Duration, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, description := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not reached after %s: %s", what, timeout, description)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// condition returns the enclave's condition of the given type, or nil.
func condition(t *testing.T, name, conditionType string) (*metav1.Condition, *estatev1.Enclave) {
	t.Helper()
	e := &estatev1.Enclave{}
	if err := k8s.Get(context.Background(), types.NamespacedName{Name: name}, e); err != nil {
		t.Fatalf("reading enclave %s: %v", name, err)
	}
	return meta.FindStatusCondition(e.Status.Conditions, conditionType), e
}

// waitForCondition waits until the enclave's condition has the status and
// reason, for the enclave's current generation.
func waitForCondition(t *testing.T, name, conditionType string, status metav1.ConditionStatus, reason string, timeout time.Duration) *metav1.Condition {
	t.Helper()
	var found *metav1.Condition
	waitFor(t, timeout, fmt.Sprintf("enclave %s %s=%s (%s)", name, conditionType, status, reason), func() (bool, string) {
		c, e := condition(t, name, conditionType)
		if c == nil {
			return false, "no condition yet"
		}
		found = c
		return c.Status == status && c.Reason == reason && c.ObservedGeneration == e.Generation,
			fmt.Sprintf("%s %s gen %d/%d: %s", c.Status, c.Reason, c.ObservedGeneration, e.Generation, c.Message)
	})
	return found
}

func TestEnclaveOnLocalSites(t *testing.T) {
	ctx := context.Background()

	begin := time.Now()
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cp, err := localcp.Start(startCtx, localcp.Options{BinDir: binDir, StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("starting the local control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := cp.Stop(context.Background()); err != nil {
			t.Errorf("stopping the local control plane: %v", err)
		}
	})
	good, err := cp.AddClusterWithOptions(startCtx, "enclave-good", localcp.ClusterOptions{EncryptSecrets: true, AuditLog: true})
	if err != nil {
		t.Fatalf("adding cluster enclave-good: %v", err)
	}
	plain, err := cp.AddClusterWithOptions(startCtx, "enclave-plain", localcp.ClusterOptions{})
	if err != nil {
		t.Fatalf("adding cluster enclave-plain: %v", err)
	}
	t.Logf("local control plane with two site clusters ready after %s", time.Since(begin).Round(time.Millisecond))

	// HostingSites are named after their clusters, which is how the
	// localcp Inspector finds the cluster. enclave-unverified reaches the
	// plain cluster but has no inspector.
	inspector := cp.Inspector()
	startOperator(t, Options{
		Inspectors:      map[string]SiteInspector{"enclave-good": inspector, "enclave-plain": inspector},
		VerifyInterval:  2 * time.Second,
		RecheckInterval: 2 * time.Second,
	})

	// Without a namespace controller envtest never finishes deleting a
	// namespace, so a repeated run reuses it.
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: secretNamespace}}); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	kubeconfigSecret(t, "enclave-good-kubeconfig", good)
	kubeconfigSecret(t, "enclave-plain-kubeconfig", plain)
	for _, site := range []*estatev1.HostingSite{
		hostingSite("enclave-good", estatev1.Secret, "enclave-good-kubeconfig"),
		hostingSite("enclave-plain", estatev1.Secret, "enclave-plain-kubeconfig"),
		hostingSite("enclave-unverified", estatev1.Secret, "enclave-plain-kubeconfig"),
		hostingSite("aws-london", estatev1.Official, "enclave-good-kubeconfig"),
	} {
		createForTest(t, site)
	}

	homeOffice := estatev1.Tenant{
		Department: "home-office",
		Namespaces: []string{"ho-apps", "ho-data"},
		Members:    []string{"ho-developers", "ho-operators"},
		Quota:      &estatev1.TenantQuota{CPU: resource.MustParse("4"), Memory: resource.MustParse("8Gi")},
	}
	nca := estatev1.Tenant{Department: "national-crime-agency", Namespaces: []string{"nca-cases"}, Members: []string{"nca-analysts"}}
	enclaves := []*estatev1.Enclave{
		newEnclave("tier2", []string{"enclave-good"}, homeOffice, nca),
		newEnclave("plain", []string{"enclave-plain"},
			estatev1.Tenant{Department: "home-office", Namespaces: []string{"plain-ho"}},
			estatev1.Tenant{Department: "hmrc", Namespaces: []string{"plain-hmrc"}}),
		newEnclave("unverified", []string{"enclave-unverified"},
			estatev1.Tenant{Department: "home-office", Namespaces: []string{"unverified-ho"}},
			estatev1.Tenant{Department: "hmrc", Namespaces: []string{"unverified-hmrc"}}),
		newEnclave("misplaced", []string{"aws-london", "no-such-site"},
			estatev1.Tenant{Department: "home-office", Namespaces: []string{"misplaced-ho"}}),
		newEnclave("named-port", []string{"enclave-good"},
			estatev1.Tenant{Department: "home-office", Namespaces: []string{"named-port-ho"}}),
	}
	enclaves[4].Spec.CrossDomainGateway.AllowedFlows[0].Ports = []estatev1.FlowPort{{Name: "https"}}
	for _, e := range enclaves {
		createForTest(t, e)
	}
	goodClient := clusterClient(t, good)

	t.Run("every control holds on the good site", func(t *testing.T) {
		waitForCondition(t, "tier2", enclave.ConditionReady, metav1.ConditionTrue, enclave.ReasonControlsHold, 2*time.Minute)
		for _, control := range enclave.ControlConditions {
			c, e := condition(t, "tier2", control)
			if c == nil {
				t.Errorf("no %s condition", control)
				continue
			}
			if c.Status != metav1.ConditionTrue || c.Reason != enclave.ReasonVerified {
				t.Errorf("%s = %s (%s), expected True (Verified): %s", control, c.Status, c.Reason, c.Message)
			}
			if c.ObservedGeneration != e.Generation {
				t.Errorf("%s observedGeneration = %d, expected %d", control, c.ObservedGeneration, e.Generation)
			}
			t.Logf("%s: %s", control, c.Message)
		}
		_, e := condition(t, "tier2", enclave.ConditionReady)
		if e.Status.ObservedGeneration != e.Generation {
			t.Errorf("status.observedGeneration = %d, expected %d", e.Status.ObservedGeneration, e.Generation)
		}
	})

	t.Run("status unchanged while controls hold", func(t *testing.T) {
		_, before := condition(t, "tier2", enclave.ConditionReady)
		// The operator verifies every 2 s, so this spans two verifications.
		time.Sleep(5 * time.Second)
		_, after := condition(t, "tier2", enclave.ConditionReady)
		if after.ResourceVersion != before.ResourceVersion {
			t.Errorf("enclave resourceVersion changed from %s to %s with nothing changed on the site:\nbefore: %+v\nafter:  %+v",
				before.ResourceVersion, after.ResourceVersion, before.Status.Conditions, after.Status.Conditions)
		}
	})

	t.Run("site holds the enclave's objects", func(t *testing.T) {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := goodClient.Get(ctx, types.NamespacedName{Name: clusterNetworkPolicyCRD}, crd); err != nil {
			t.Errorf("ClusterNetworkPolicy CRD on the site: %v", err)
		}

		ns := &corev1.Namespace{}
		if err := goodClient.Get(ctx, types.NamespacedName{Name: "ho-data"}, ns); err != nil {
			t.Fatalf("namespace ho-data on the site: %v", err)
		}
		for key, expected := range map[string]string{
			enclave.LabelTenant:         "home-office",
			enclave.LabelClassification: "SECRET",
			enclave.LabelZone:           enclave.DefaultZone,
		} {
			if got := ns.Labels[key]; got != expected {
				t.Errorf("namespace ho-data label %s = %q, expected %q", key, got, expected)
			}
		}

		quota := &corev1.ResourceQuota{}
		if err := goodClient.Get(ctx, types.NamespacedName{Namespace: "ho-apps", Name: enclave.QuotaName}, quota); err != nil {
			t.Fatalf("quota in ho-apps: %v", err)
		}
		if got := quota.Spec.Hard[corev1.ResourceLimitsCPU]; got.String() != "2" {
			t.Errorf("ho-apps limits.cpu = %s, expected half of the tenant's 4", got.String())
		}
		if got := quota.Spec.Hard[corev1.ResourceLimitsMemory]; got.String() != "4Gi" {
			t.Errorf("ho-apps limits.memory = %s, expected half of the tenant's 8Gi", got.String())
		}

		binding := &rbacv1.RoleBinding{}
		if err := goodClient.Get(ctx, types.NamespacedName{Namespace: "nca-cases", Name: enclave.RoleBindingName("nca-analysts")}, binding); err != nil {
			t.Fatalf("RoleBinding for nca-analysts: %v", err)
		}
		if binding.RoleRef.Name != "edit" {
			t.Errorf("nca-analysts bound to %s, expected edit", binding.RoleRef.Name)
		}

		policies := &v1alpha2.ClusterNetworkPolicyList{}
		if err := goodClient.List(ctx, policies, client.MatchingLabels{enclave.LabelEnclave: "tier2"}); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range policies.Items {
			names = append(names, p.Name)
			if !managedBy(p.ManagedFields, enclave.ManagedBy) {
				t.Errorf("policy %s has no fields managed by %s", p.Name, enclave.ManagedBy)
			}
		}
		slices.Sort(names)
		expected := []string{
			"enclave-tier2-deny-internet-egress",
			"enclave-tier2-deny-outside-ingress",
			"enclave-tier2-gateway-ingress",
			"enclave-tier2-isolate-home-office",
			"enclave-tier2-isolate-national-crime-agency",
		}
		if !slices.Equal(names, expected) {
			t.Errorf("policies on the site = %v, expected %v", names, expected)
		}
	})

	t.Run("site without encryption or audit fails those controls", func(t *testing.T) {
		waitForCondition(t, "plain", enclave.ConditionEncryptionAtRest, metav1.ConditionFalse, enclave.ReasonNotEncrypted, 2*time.Minute)
		waitForCondition(t, "plain", enclave.ConditionAuditLogging, metav1.ConditionFalse, enclave.ReasonNotAudited, time.Minute)
		waitForCondition(t, "plain", enclave.ConditionNoInternetEgress, metav1.ConditionTrue, enclave.ReasonVerified, time.Minute)
		waitForCondition(t, "plain", enclave.ConditionTenantIsolation, metav1.ConditionTrue, enclave.ReasonVerified, time.Minute)
		waitForCondition(t, "plain", enclave.ConditionReady, metav1.ConditionFalse, enclave.ReasonControlFailed, time.Minute)
	})

	t.Run("site without an inspector is not verifiable", func(t *testing.T) {
		c := waitForCondition(t, "unverified", enclave.ConditionEncryptionAtRest, metav1.ConditionUnknown, enclave.ReasonNotVerifiable, 2*time.Minute)
		if !strings.Contains(c.Message, "enclave-unverified") {
			t.Errorf("EncryptionAtRest message %q does not name the site", c.Message)
		}
		waitForCondition(t, "unverified", enclave.ConditionAuditLogging, metav1.ConditionUnknown, enclave.ReasonNotVerifiable, time.Minute)
		waitForCondition(t, "unverified", enclave.ConditionReady, metav1.ConditionFalse, enclave.ReasonNotVerifiable, time.Minute)
	})

	t.Run("unaccredited and missing sites are named", func(t *testing.T) {
		c := waitForCondition(t, "misplaced", enclave.ConditionReady, metav1.ConditionFalse, enclave.ReasonSiteNotAccredited, time.Minute)
		for _, site := range []string{"aws-london", "no-such-site"} {
			if !strings.Contains(c.Message, site) {
				t.Errorf("Ready message %q does not name %s", c.Message, site)
			}
		}
		ns := &corev1.Namespace{}
		err := goodClient.Get(ctx, types.NamespacedName{Name: "misplaced-ho"}, ns)
		if !apierrors.IsNotFound(err) {
			t.Errorf("namespace misplaced-ho on the cluster behind the OFFICIAL site: error = %v, expected not found", err)
		}
	})

	t.Run("unusable spec is reported", func(t *testing.T) {
		c := waitForCondition(t, "named-port", enclave.ConditionReady, metav1.ConditionFalse, enclave.ReasonInvalidSpec, time.Minute)
		if !strings.Contains(c.Message, "give the port number") {
			t.Errorf("Ready message %q does not say how to fix the spec", c.Message)
		}
		ns := &corev1.Namespace{}
		err := goodClient.Get(ctx, types.NamespacedName{Name: "named-port-ho"}, ns)
		if !apierrors.IsNotFound(err) {
			t.Errorf("namespace named-port-ho of the invalid enclave: error = %v, expected not found", err)
		}
	})

	t.Run("deleted isolation policy is detected and restored", func(t *testing.T) {
		name := "enclave-tier2-isolate-home-office"
		policy := &v1alpha2.ClusterNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}}
		// A deletion that lands between a reconcile's verification and its
		// apply is repaired before any verification reads it, so delete
		// again until a verification catches the policy missing.
		var c *metav1.Condition
		for attempt := 1; c == nil; attempt++ {
			if err := goodClient.Delete(ctx, policy); client.IgnoreNotFound(err) != nil {
				t.Fatalf("deleting %s on the site: %v", name, err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for c == nil && time.Now().Before(deadline) {
				if found, _ := condition(t, "tier2", enclave.ConditionTenantIsolation); found != nil && found.Status == metav1.ConditionFalse {
					c = found
				}
				time.Sleep(100 * time.Millisecond)
			}
			if c == nil && attempt == 5 {
				t.Fatalf("TenantIsolation still True 5 s after each of %d deletions of %s", attempt, name)
			}
		}
		if c.Reason != enclave.ReasonTenantsConnected {
			t.Errorf("TenantIsolation reason = %s, expected %s: %s", c.Reason, enclave.ReasonTenantsConnected, c.Message)
		}
		t.Logf("TenantIsolation after the deletion: %s", c.Message)
		if ready, _ := condition(t, "tier2", enclave.ConditionReady); ready.Status != metav1.ConditionFalse {
			t.Errorf("Ready = %s while TenantIsolation is False", ready.Status)
		}

		waitForCondition(t, "tier2", enclave.ConditionTenantIsolation, metav1.ConditionTrue, enclave.ReasonVerified, time.Minute)
		if err := goodClient.Get(ctx, types.NamespacedName{Name: name}, policy); err != nil {
			t.Errorf("%s not re-applied: %v", name, err)
		}
		waitForCondition(t, "tier2", enclave.ConditionReady, metav1.ConditionTrue, enclave.ReasonControlsHold, time.Minute)
	})

	t.Run("removed member loses its binding", func(t *testing.T) {
		e := &estatev1.Enclave{}
		if err := k8s.Get(ctx, types.NamespacedName{Name: "tier2"}, e); err != nil {
			t.Fatal(err)
		}
		e.Spec.Tenants[0].Members = []string{"ho-developers"}
		if err := k8s.Update(ctx, e); err != nil {
			t.Fatalf("updating enclave tier2: %v", err)
		}
		waitFor(t, time.Minute, "RoleBinding of ho-operators deleted", func() (bool, string) {
			binding := &rbacv1.RoleBinding{}
			err := goodClient.Get(ctx, types.NamespacedName{Namespace: "ho-apps", Name: enclave.RoleBindingName("ho-operators")}, binding)
			return apierrors.IsNotFound(err), fmt.Sprintf("get error = %v", err)
		})
		binding := &rbacv1.RoleBinding{}
		if err := goodClient.Get(ctx, types.NamespacedName{Namespace: "ho-apps", Name: enclave.RoleBindingName("ho-developers")}, binding); err != nil {
			t.Errorf("RoleBinding of the remaining member ho-developers: %v", err)
		}
		waitForCondition(t, "tier2", enclave.ConditionReady, metav1.ConditionTrue, enclave.ReasonControlsHold, time.Minute)
	})

	// Memory figures for the record. They are not checked.
	for _, p := range cp.Processes() {
		kib, err := residentKiB(p.PID)
		if err != nil {
			t.Errorf("reading RSS of %s: %v", p.Name, err)
			continue
		}
		t.Logf("RSS of %s (pid %d): %d MiB", p.Name, p.PID, kib/1024)
	}
}

func managedBy(fields []metav1.ManagedFieldsEntry, manager string) bool {
	for _, f := range fields {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// residentKiB returns VmRSS from /proc/<pid>/status.
func residentKiB(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if value, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kib int
			_, err := fmt.Sscanf(strings.TrimSpace(value), "%d kB", &kib)
			return kib, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

func TestAPIRejectsEnclaveWithoutControl(t *testing.T) {
	tests := map[string]struct {
		disable  func(c *estatev1.EnclaveControls)
		field    string
		expected string
	}{
		"internet egress allowed": {
			disable:  func(c *estatev1.EnclaveControls) { c.NoInternetEgress = false },
			field:    "spec.controls.noInternetEgress",
			expected: "set noInternetEgress: true",
		},
		"tenants not isolated": {
			disable:  func(c *estatev1.EnclaveControls) { c.TenantIsolation = false },
			field:    "spec.controls.tenantIsolation",
			expected: "set tenantIsolation: true",
		},
	}
	for sentence, tc := range tests {
		t.Run(sentence, func(t *testing.T) {
			e := newEnclave("rejected-"+strings.ReplaceAll(sentence, " ", "-"), []string{"crown-a"},
				estatev1.Tenant{Department: "home-office", Namespaces: []string{"ho-apps"}})
			tc.disable(&e.Spec.Controls)
			err := k8s.Create(context.Background(), e)
			if !apierrors.IsInvalid(err) {
				t.Fatalf("create error = %v, expected Invalid", err)
			}
			var status apierrors.APIStatus
			if !errors.As(err, &status) || status.Status().Details == nil {
				t.Fatalf("error %v has no details", err)
			}
			var fields []string
			for _, cause := range status.Status().Details.Causes {
				fields = append(fields, cause.Field)
				if cause.Field == tc.field && !strings.Contains(cause.Message, tc.expected) {
					t.Errorf("cause for %s = %q, expected it to contain %q", tc.field, cause.Message, tc.expected)
				}
			}
			if !slices.Contains(fields, tc.field) {
				t.Errorf("causes name fields %v, expected %s", fields, tc.field)
			}
		})
	}
}
