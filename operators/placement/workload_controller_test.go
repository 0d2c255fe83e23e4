package placement

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

const eventually = 30 * time.Second

// testSite returns a site whose name is unique to the test.
func testSite(t *testing.T, suffix string, tier estatev1.Tier, acc estatev1.Classification, cpu string, slots int32) *estatev1.HostingSite {
	return &estatev1.HostingSite{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName(t, suffix)},
		Spec: estatev1.HostingSiteSpec{
			Tier: tier, Provider: "test", Region: "test-1", Jurisdiction: "GB", Accreditation: acc,
			Capacity:   estatev1.SiteCapacity{CPU: resource.MustParse(cpu), Memory: resource.MustParse("1Ti"), Workloads: slots},
			CostWeight: 50,
		},
	}
}

func uniqueName(t *testing.T, suffix string) string {
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-", " ", "-").Replace(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	return strings.Trim(name, "-") + "-" + suffix
}

// testWorkload returns a workload restricted to the given sites, so that
// sites made by other tests never take part.
func testWorkload(ns, name string, c estatev1.Classification, cpu string, sites ...string) *estatev1.Workload {
	return &estatev1.Workload{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: estatev1.WorkloadSpec{
			Owner:              estatev1.Owner{BusinessArea: "border-force"},
			BusinessCapability: "Identify",
			Classification:     c,
			Hosting:            estatev1.HostingRequirements{Sites: sites},
			Resources:          estatev1.WorkloadResources{CPU: resource.MustParse(cpu), Memory: resource.MustParse("1Gi")},
			Zone:               "application",
		},
	}
}

func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: uniqueName(t, "ns")}}
	create(t, ns)
	return ns.Name
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func remove(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Delete(context.Background(), obj); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("deleting %T %s: %v", obj, obj.GetName(), err)
	}
}

// waitFor polls obj until check returns true, failing the test with the
// last state after the timeout.
func waitFor[T client.Object](t *testing.T, obj T, what string, check func(T) bool) T {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, eventually, true, func(ctx context.Context) (bool, error) {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, nil
		}
		return check(obj), nil
	})
	if err != nil {
		t.Fatalf("%s %s never reached: %s; last state: %+v", fmt.Sprintf("%T", obj), obj.GetName(), what, obj)
	}
	return obj
}

func waitGone(t *testing.T, obj client.Object) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, eventually, true, func(ctx context.Context) (bool, error) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("%T %s was never deleted; finalizers %v", obj, obj.GetName(), obj.GetFinalizers())
	}
}

func placed(w *estatev1.Workload) bool {
	c := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionPlaced)
	return c != nil && c.ObservedGeneration == w.Generation && w.Status.Placement != nil
}

func placedOn(site string) func(*estatev1.Workload) bool {
	return func(w *estatev1.Workload) bool { return placed(w) && w.Status.Placement.Site == site }
}

func TestWorkloadPlacedOnPublicCloudFirst(t *testing.T) {
	ns := namespace(t)
	public := testSite(t, "public", estatev1.TierPublicCloud, estatev1.Official, "10", 10)
	public.Spec.CostWeight = 90
	private := testSite(t, "private", estatev1.TierPrivateCloud, estatev1.OfficialSensitive, "10", 10)
	private.Spec.CostWeight = 1
	create(t, public)
	create(t, private)

	erp := testWorkload(ns, "erp", estatev1.Official, "2", public.Name, private.Name)
	create(t, erp)
	waitFor(t, erp, "placed on the public site", placedOn(public.Name))

	if erp.Status.Placement.Tier != estatev1.TierPublicCloud {
		t.Errorf("tier = %s, want PublicCloud", erp.Status.Placement.Tier)
	}
	if got := len(erp.Status.Placement.Sites); got != 2 {
		t.Errorf("recorded %d site outcomes, want 2", got)
	}
	if !controllerHasFinalizer(erp) {
		t.Errorf("workload has no placement finalizer: %v", erp.Finalizers)
	}
	waitFor(t, public, "reservation recorded", func(s *estatev1.HostingSite) bool {
		return s.Status.Allocated.Workloads == 1 && s.Status.Allocated.CPU.Cmp(resource.MustParse("2")) == 0
	})

	sensitive := testWorkload(ns, "casework", estatev1.OfficialSensitive, "2", public.Name, private.Name)
	create(t, sensitive)
	waitFor(t, sensitive, "placed on the private site", placedOn(private.Name))
	var publicOutcome *estatev1.SiteOutcome
	for i, o := range sensitive.Status.Placement.Sites {
		if o.Site == public.Name {
			publicOutcome = &sensitive.Status.Placement.Sites[i]
		}
	}
	if publicOutcome == nil || publicOutcome.Eligible || publicOutcome.Reason != "AccreditationTooLow" {
		t.Errorf("public site outcome = %+v, want ineligible with AccreditationTooLow", publicOutcome)
	}
	if !strings.Contains(sensitive.Status.Placement.Message, public.Name) {
		t.Errorf("message %q does not say why public site %s was rejected", sensitive.Status.Placement.Message, public.Name)
	}
}

func controllerHasFinalizer(w *estatev1.Workload) bool {
	for _, f := range w.Finalizers {
		if f == estatev1.PlacementFinalizer {
			return true
		}
	}
	return false
}

// TestConcurrentWorkloadsNeverOversubscribe creates many workloads at once
// against a site with room for a few: exactly that many are placed, the rest
// wait with the count of sites each filter removed, and every reservation is
// released on delete.
func TestConcurrentWorkloadsNeverOversubscribe(t *testing.T) {
	ns := namespace(t)
	small := testSite(t, "small", estatev1.TierPublicCloud, estatev1.Official, "5", 100)
	create(t, small)

	const total, fits = 20, 5
	workloads := make([]*estatev1.Workload, total)
	var wg sync.WaitGroup
	for i := range workloads {
		workloads[i] = testWorkload(ns, fmt.Sprintf("app-%02d", i), estatev1.Official, "1", small.Name)
		wg.Add(1)
		go func(w *estatev1.Workload) {
			defer wg.Done()
			create(t, w)
		}(workloads[i])
	}
	wg.Wait()

	onSite, waiting := countDecisions(t, workloads, small.Name)
	if onSite != fits || waiting != total-fits {
		t.Fatalf("placed %d and left %d waiting, want %d and %d", onSite, waiting, fits, total-fits)
	}
	waitFor(t, small, "exactly five reservations", func(s *estatev1.HostingSite) bool {
		return s.Status.Allocated.Workloads == fits && len(s.Status.Reservations) == fits
	})
	if small.Status.Allocated.CPU.Cmp(small.Spec.Capacity.CPU) > 0 {
		t.Errorf("allocated CPU %s exceeds capacity %s", small.Status.Allocated.CPU.String(), small.Spec.Capacity.CPU.String())
	}
	for _, w := range workloads {
		if w.Status.Placement.Site == "" {
			if !strings.Contains(w.Status.Placement.Message, "1 InsufficientCapacity") {
				t.Errorf("waiting workload %s message %q does not count the capacity filter", w.Name, w.Status.Placement.Message)
			}
			break
		}
	}

	// Deleting one placed workload frees room that a waiting one takes.
	for _, w := range workloads {
		if w.Status.Placement.Site == small.Name {
			remove(t, w)
			waitGone(t, w)
			break
		}
	}
	waitFor(t, small, "the freed slot taken again", func(s *estatev1.HostingSite) bool {
		return len(s.Status.Reservations) == fits
	})

	for _, w := range workloads {
		remove(t, w)
	}
	waitFor(t, small, "every reservation released", func(s *estatev1.HostingSite) bool {
		return len(s.Status.Reservations) == 0 && s.Status.Allocated.Workloads == 0 && s.Status.Allocated.CPU.IsZero()
	})
}

func countDecisions(t *testing.T, workloads []*estatev1.Workload, site string) (onSite, waiting int) {
	t.Helper()
	for _, w := range workloads {
		waitFor(t, w, "a placement decision", placed)
		if w.Status.Placement.Site == site {
			onSite++
		} else {
			waiting++
		}
	}
	return onSite, waiting
}

func TestReconcileUnchangedWorkloadWritesNothing(t *testing.T) {
	ns := namespace(t)
	site := testSite(t, "site", estatev1.TierPublicCloud, estatev1.Official, "10", 10)
	create(t, site)
	w := testWorkload(ns, "web", estatev1.Official, "1", site.Name)
	create(t, w)
	waitFor(t, w, "placed", placedOn(site.Name))
	before := w.Status.DeepCopy()

	// An annotation change triggers a reconcile without changing the spec.
	patch := client.MergeFrom(w.DeepCopy())
	w.Annotations = map[string]string{"example.com/touched": "yes"}
	if err := k8s.Patch(context.Background(), w, patch); err != nil {
		t.Fatalf("annotating: %v", err)
	}
	touched := w.ResourceVersion
	time.Sleep(2 * time.Second)

	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(w), w); err != nil {
		t.Fatal(err)
	}
	if w.ResourceVersion != touched {
		t.Errorf("resourceVersion moved from %s to %s: the reconcile rewrote an unchanged workload", touched, w.ResourceVersion)
	}
	c0 := meta.FindStatusCondition(before.Conditions, estatev1.ConditionPlaced)
	c1 := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionPlaced)
	if !c0.LastTransitionTime.Equal(&c1.LastTransitionTime) {
		t.Errorf("Placed lastTransitionTime changed from %v to %v", c0.LastTransitionTime, c1.LastTransitionTime)
	}
}

func TestDeletedSiteMovesWorkloadsBeforeGoing(t *testing.T) {
	ns := namespace(t)
	first := testSite(t, "first", estatev1.TierPublicCloud, estatev1.Official, "10", 10)
	first.Spec.CostWeight = 10
	second := testSite(t, "second", estatev1.TierPublicCloud, estatev1.Official, "10", 10)
	second.Spec.CostWeight = 90
	create(t, first)
	create(t, second)
	w := testWorkload(ns, "web", estatev1.Official, "3", first.Name, second.Name)
	create(t, w)
	waitFor(t, w, "placed on the cheaper site", placedOn(first.Name))

	remove(t, first)
	waitFor(t, w, "moved to the second site", placedOn(second.Name))
	waitGone(t, first)
	waitFor(t, second, "one reservation", func(s *estatev1.HostingSite) bool {
		return len(s.Status.Reservations) == 1 && s.Status.Allocated.CPU.Cmp(resource.MustParse("3")) == 0
	})
}

func TestDeletedSiteKeepsStrandedWorkload(t *testing.T) {
	ns := namespace(t)
	only := testSite(t, "only", estatev1.TierOnPremises, estatev1.OfficialSensitive, "10", 10)
	create(t, only)
	w := testWorkload(ns, "pnc", estatev1.OfficialSensitive, "2", only.Name)
	create(t, w)
	waitFor(t, w, "placed", placedOn(only.Name))

	remove(t, only)
	waitFor(t, w, "SiteAvailable=False with reason Deleting", func(w *estatev1.Workload) bool {
		c := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionSiteAvailable)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == estatev1.ReasonDeleting
	})
	if w.Status.Placement.Site != only.Name || !meta.IsStatusConditionTrue(w.Status.Conditions, estatev1.ConditionPlaced) {
		t.Errorf("stranded workload lost its placement: %+v", w.Status.Placement)
	}
	waitFor(t, only, "Ready=False with reason Deleting naming the workload", func(s *estatev1.HostingSite) bool {
		c := meta.FindStatusCondition(s.Status.Conditions, estatev1.ConditionReady)
		return c != nil && c.Reason == estatev1.ReasonDeleting && strings.Contains(c.Message, ns+"/pnc")
	})
	if only.Status.Allocated.Workloads != 1 {
		t.Errorf("deleting site allocation = %d workloads, want 1 (never double-counted)", only.Status.Allocated.Workloads)
	}

	remove(t, w)
	waitGone(t, w)
	waitGone(t, only)
}

func TestPlacementRejectionsAreExplained(t *testing.T) {
	ns := namespace(t)
	site := testSite(t, "site", estatev1.TierPublicCloud, estatev1.Official, "10", 10)
	create(t, site)

	unknown := testWorkload(ns, "unknown-site", estatev1.Official, "1", "no-such-site")
	create(t, unknown)
	waitFor(t, unknown, "Placed=False with reason UnknownSite", func(w *estatev1.Workload) bool {
		c := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionPlaced)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == estatev1.ReasonUnknownSite
	})
	if !strings.Contains(unknown.Status.Placement.Message, "no-such-site") {
		t.Errorf("message %q does not name the unknown site", unknown.Status.Placement.Message)
	}

	expired := testWorkload(ns, "expired", estatev1.Official, "1", site.Name)
	expired.Spec.Hosting.CloudFirstException = &estatev1.CloudFirstException{
		Justification: "Contract with the incumbent supplier runs until the end of 2020.",
		Approver:      "chief-technology-officer",
		Expires:       "2020-12-31",
	}
	create(t, expired)
	waitFor(t, expired, "placed on public cloud once its exception expired", placedOn(site.Name))

	current := testWorkload(ns, "current", estatev1.Official, "1", site.Name)
	current.Spec.Hosting.CloudFirstException = &estatev1.CloudFirstException{
		Justification: "Bespoke hardware security modules are not yet available in the cloud.",
		Approver:      "chief-technology-officer",
		Expires:       time.Now().AddDate(1, 0, 0).Format(time.DateOnly),
	}
	create(t, current)
	waitFor(t, current, "Placed=False because its only site is public cloud", func(w *estatev1.Workload) bool {
		return placed(w) && w.Status.Placement.Site == "" && outcomeReason(w, site.Name) == "CloudFirstException"
	})
}

func outcomeReason(w *estatev1.Workload, site string) string {
	for _, o := range w.Status.Placement.Sites {
		if o.Site == site {
			return o.Reason
		}
	}
	return ""
}

func TestSecretWorkloadNeedsEnclaveTenancy(t *testing.T) {
	ns := namespace(t)
	enclaveSite := testSite(t, "enclave", estatev1.TierOnPremises, estatev1.Secret, "10", 10)
	create(t, enclaveSite)

	tenant := testWorkload(ns, "tenant", estatev1.Secret, "1", enclaveSite.Name)
	create(t, tenant)
	waitFor(t, tenant, "NotEnclaveTenant before any enclave lists the site", func(w *estatev1.Workload) bool {
		return placed(w) && w.Status.Placement.Site == "" && outcomeReason(w, enclaveSite.Name) == "NotEnclaveTenant"
	})

	enclave := &estatev1.Enclave{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName(t, "tier-2")},
		Spec: estatev1.EnclaveSpec{
			Sites:              []string{enclaveSite.Name},
			Tenants:            []estatev1.Tenant{{Department: estatev1.DefaultDepartment, Namespaces: []string{ns}}},
			CrossDomainGateway: estatev1.CrossDomainGateway{Name: "gateway"},
			Controls:           estatev1.EnclaveControls{NoInternetEgress: true, EncryptionAtRest: true, AuditLogging: true, TenantIsolation: true},
		},
	}
	create(t, enclave)
	waitFor(t, tenant, "placed once the enclave lists its department", placedOn(enclaveSite.Name))

	outsider := testWorkload(ns, "outsider", estatev1.Secret, "1", enclaveSite.Name)
	outsider.Spec.Owner.Department = "ministry-of-justice"
	create(t, outsider)
	waitFor(t, outsider, "rejected as not a tenant", func(w *estatev1.Workload) bool {
		return placed(w) && w.Status.Placement.Site == "" && outcomeReason(w, enclaveSite.Name) == "NotEnclaveTenant"
	})
	if msg := outcomeMessage(outsider, enclaveSite.Name); !strings.Contains(msg, "ministry-of-justice is not a tenant") {
		t.Errorf("outcome message %q does not name the department", msg)
	}
}

func outcomeMessage(w *estatev1.Workload, site string) string {
	for _, o := range w.Status.Placement.Sites {
		if o.Site == site {
			return o.Message
		}
	}
	return ""
}
