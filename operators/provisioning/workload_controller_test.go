package provisioning

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/provisioning"
)

const eventually = 30 * time.Second

func uniqueName(t *testing.T, suffix string) string {
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-", " ", "-").Replace(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	return strings.Trim(name, "-") + "-" + suffix
}

// kubernetesSite creates a HostingSite whose kubeconfig Secret points at
// cluster. A nil cluster leaves the Secret out, so the site has no usable
// connection until the test creates it.
func kubernetesSite(t *testing.T, suffix string, cluster *siteCluster, costWeight int32) *estatev1.HostingSite {
	t.Helper()
	site := testSite(t, suffix, costWeight)
	site.Spec.Connection = &estatev1.SiteConnection{KubeconfigSecretRef: &estatev1.SecretKeyReference{
		Namespace: secretNamespace, Name: site.Name, Key: "kubeconfig",
	}}
	if cluster != nil {
		createKubeconfigSecret(t, site.Name, cluster)
	}
	create(t, site)
	return site
}

func createKubeconfigSecret(t *testing.T, name string, cluster *siteCluster) {
	t.Helper()
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: secretNamespace, Name: name},
		Data:       map[string][]byte{"kubeconfig": cluster.kubeconfig},
	})
}

func testSite(t *testing.T, suffix string, costWeight int32) *estatev1.HostingSite {
	return &estatev1.HostingSite{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName(t, suffix)},
		Spec: estatev1.HostingSiteSpec{
			Tier: estatev1.TierPublicCloud, Provider: "test", Region: "test-1", Jurisdiction: "GB",
			Accreditation: estatev1.OfficialSensitive,
			Capacity:      estatev1.SiteCapacity{CPU: resource.MustParse("64"), Memory: resource.MustParse("256Gi"), Workloads: 100},
			CostWeight:    costWeight,
		},
	}
}

// testWorkload returns a workload restricted to the given sites, with two
// components and one port.
func testWorkload(ns, name string, sites ...string) *estatev1.Workload {
	return &estatev1.Workload{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: estatev1.WorkloadSpec{
			Owner:              estatev1.Owner{BusinessArea: "border-force"},
			BusinessCapability: "Identify",
			Classification:     estatev1.Official,
			Hosting:            estatev1.HostingRequirements{Sites: sites},
			Resources:          estatev1.WorkloadResources{CPU: resource.MustParse("1"), Memory: resource.MustParse("1Gi")},
			Zone:               "application",
			Ports:              []estatev1.ServicePort{{Name: "https", Port: 8443}},
			Components: []estatev1.Component{
				{Name: "api", Image: "registry.example/api:1.0", Replicas: 2},
				{Name: "worker", Image: "registry.example/worker:1.0", Replicas: 1},
			},
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

// waitFor polls obj in c until check returns true, failing the test with
// the last state after the timeout.
func waitFor[T client.Object](t *testing.T, c client.Client, obj T, what string, check func(T) bool) T {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, eventually, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, nil
		}
		return check(obj), nil
	})
	if err != nil {
		t.Fatalf("%T %s never reached: %s; last state: %+v", obj, obj.GetName(), what, obj)
	}
	return obj
}

// waitGone polls until obj is not found in c.
func waitGone(t *testing.T, c client.Client, obj client.Object, timeout time.Duration) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("%T %s was not deleted within %s; finalizers %v", obj, obj.GetName(), timeout, obj.GetFinalizers())
	}
}

// waitDeleted polls until obj is gone from c or being deleted. Namespaces on
// the site clusters never finish deleting, as no namespace controller runs there.
func waitDeleted(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, eventually, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		return apierrors.IsNotFound(err) || (err == nil && !obj.GetDeletionTimestamp().IsZero()), nil
	})
	if err != nil {
		t.Fatalf("%T %s was never deleted", obj, obj.GetName())
	}
}

// assertExists fails the test unless obj exists in c and is not being deleted.
func assertExists(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Errorf("%T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
		return
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		t.Errorf("%T %s/%s is being deleted", obj, obj.GetNamespace(), obj.GetName())
	}
}

func condition(reason string, status metav1.ConditionStatus) func(*estatev1.Workload) bool {
	return func(w *estatev1.Workload) bool {
		c := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionProvisioned)
		return c != nil && c.Status == status && c.Reason == reason && c.ObservedGeneration == w.Generation
	}
}

var applied = condition(estatev1.ReasonApplied, metav1.ConditionTrue)

func provisionedMessage(w *estatev1.Workload) string {
	if c := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionProvisioned); c != nil {
		return c.Message
	}
	return ""
}

// waitEvent waits for an event about the workload with the given type and
// reason whose note contains text, and returns the note.
func waitEvent(t *testing.T, w *estatev1.Workload, eventType, reason, text string) string {
	t.Helper()
	var note string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, eventually, true, func(ctx context.Context) (bool, error) {
		list := &eventsv1.EventList{}
		if err := k8s.List(ctx, list, client.InNamespace(w.Namespace)); err != nil {
			return false, nil
		}
		for _, e := range list.Items {
			if e.Regarding.Name == w.Name && e.Reason == reason && e.Type == eventType && strings.Contains(e.Note, text) {
				note = e.Note
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no %s event with reason %s about workload %s whose note contains %q", eventType, reason, w.Name, text)
	}
	return note
}

func managedBy(obj client.Object, manager string) bool {
	for _, entry := range obj.GetManagedFields() {
		if entry.Manager == manager && entry.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

func TestWorkloadProvisionedOnKubernetesSite(t *testing.T) {
	ns := namespace(t)
	site := kubernetesSite(t, "site", siteA, 50)
	w := testWorkload(ns, "passport", site.Name)
	w.Annotations = map[string]string{policyAnnotation: "deny-all"}
	create(t, w)
	waitFor(t, k8s, w, "Provisioned=True with reason Applied", applied)

	siteNamespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	assertExists(t, siteA.client, siteNamespace)
	wantLabels := map[string]string{
		provisioning.LabelBusinessArea:   "border-force",
		provisioning.LabelClassification: "OFFICIAL",
		provisioning.LabelZone:           "application",
	}
	for k, v := range wantLabels {
		if got := siteNamespace.Labels[k]; got != v {
			t.Errorf("site namespace label %s = %q, want %q", k, got, v)
		}
	}

	for _, name := range []string{"passport-api", "passport-worker"} {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		assertExists(t, siteA.client, d)
		if !managedBy(d, FieldManager) {
			t.Errorf("deployment %s has no apply entry of %s: %+v", name, FieldManager, d.ManagedFields)
		}
		labels := d.Spec.Template.Labels
		if labels[provisioning.LabelWorkload] != "passport" || labels[provisioning.LabelZone] != "application" {
			t.Errorf("deployment %s pod labels = %v, want workload passport and zone application", name, labels)
		}
	}
	api := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "passport-api"}}
	assertExists(t, siteA.client, api)
	// 1 CPU and 1Gi over three replicas in all.
	requests := api.Spec.Template.Spec.Containers[0].Resources.Requests
	if got := requests[corev1.ResourceCPU]; got.Cmp(resource.MustParse("333m")) != 0 {
		t.Errorf("api requests cpu %s, want 333m", got.String())
	}
	if got := api.Spec.Template.Spec.Containers[0].Ports; len(got) != 1 || got[0].Name != "https" || got[0].ContainerPort != 8443 {
		t.Errorf("api container ports = %+v, want https 8443", got)
	}

	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "passport"}}
	assertExists(t, siteA.client, svc)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "https" || svc.Spec.Ports[0].Port != 8443 {
		t.Errorf("service ports = %+v, want https 8443", svc.Spec.Ports)
	}
	if !managedBy(svc, FieldManager) {
		t.Errorf("service has no apply entry of %s", FieldManager)
	}

	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "estate"}}
	assertExists(t, siteA.client, quota)
	if got := quota.Spec.Hard[corev1.ResourceRequestsCPU]; got.Cmp(resource.MustParse("1")) != 0 {
		t.Errorf("quota requests.cpu = %s, want 1", got.String())
	}
	if got := quota.Spec.Hard[corev1.ResourceRequestsMemory]; got.Cmp(resource.MustParse("1Gi")) != 0 {
		t.Errorf("quota requests.memory = %s, want 1Gi", got.String())
	}
	limits := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "estate"}}
	assertExists(t, siteA.client, limits)
	if !managedBy(limits, FieldManager) {
		t.Errorf("limit range has no apply entry of %s", FieldManager)
	}
	policy := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "passport-deny-all"}}
	assertExists(t, siteA.client, policy)
	if policy.Labels[provisioning.LabelWorkload] != "passport" {
		t.Errorf("network policy labels = %v, want the workload label", policy.Labels)
	}

	if w.Status.Provisioning == nil || w.Status.Provisioning.Site != site.Name {
		t.Fatalf("status.provisioning = %+v, want site %s", w.Status.Provisioning, site.Name)
	}
	var got []string
	for _, o := range w.Status.Provisioning.Objects {
		got = append(got, fmt.Sprintf("%s %s/%s @%s", o.Kind, o.Namespace, o.Name, o.Site))
	}
	at := " @" + site.Name
	want := []string{
		"Namespace /" + ns + at,
		"LimitRange " + ns + "/estate" + at,
		"ResourceQuota " + ns + "/estate" + at,
		"NetworkPolicy " + ns + "/passport-deny-all" + at,
		"Service " + ns + "/passport" + at,
		"Deployment " + ns + "/passport-api" + at,
		"Deployment " + ns + "/passport-worker" + at,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status.provisioning.objects differ (-want +got):\n%s", diff)
	}
	if !strings.Contains(provisionedMessage(w), "Applied 7 objects") {
		t.Errorf("Provisioned message %q does not count the 7 objects", provisionedMessage(w))
	}
	if !hasFinalizer(w) {
		t.Errorf("workload has no provisioning finalizer: %v", w.Finalizers)
	}
	waitEvent(t, w, corev1.EventTypeNormal, estatev1.ReasonApplied, site.Name)
}

func hasFinalizer(w *estatev1.Workload) bool {
	for _, f := range w.Finalizers {
		if f == estatev1.ProvisioningFinalizer {
			return true
		}
	}
	return false
}

// The drift tests use one workload each, because events.k8s.io merges a
// workload's events with the same reason into a series that keeps only the
// first note.

func TestDeletedObjectOnSiteIsRestored(t *testing.T) {
	ns := namespace(t)
	site := kubernetesSite(t, "site", siteA, 50)
	w := testWorkload(ns, "visas", site.Name)
	create(t, w)
	waitFor(t, k8s, w, "Provisioned=True", applied)

	worker := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "visas-worker"}}
	if err := siteA.client.Delete(context.Background(), worker); err != nil {
		t.Fatalf("deleting the worker deployment on the site: %v", err)
	}
	restored := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "visas-worker"}}
	waitFor(t, siteA.client, restored, "recreated", func(d *appsv1.Deployment) bool { return d.DeletionTimestamp.IsZero() })
	if !managedBy(restored, FieldManager) {
		t.Errorf("restored deployment has no apply entry of %s", FieldManager)
	}
	waitEvent(t, w, corev1.EventTypeWarning, "DriftCorrected", "Deployment "+ns+"/visas-worker (deleted)")
}

func TestChangedObjectOnSiteIsRestored(t *testing.T) {
	ns := namespace(t)
	site := kubernetesSite(t, "site", siteA, 50)
	w := testWorkload(ns, "permits", site.Name)
	create(t, w)
	waitFor(t, k8s, w, "Provisioned=True", applied)

	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "permits"}}
	assertExists(t, siteA.client, svc)
	svc.Labels[provisioning.LabelWorkload] = "someone-else"
	if err := siteA.client.Update(context.Background(), svc); err != nil {
		t.Fatalf("changing the service label on the site: %v", err)
	}
	waitFor(t, siteA.client, svc, "label put back", func(s *corev1.Service) bool {
		return s.Labels[provisioning.LabelWorkload] == "permits"
	})
	waitEvent(t, w, corev1.EventTypeWarning, "DriftCorrected", "Service "+ns+"/permits (changed)")
}

func TestSharedNamespaceAcrossWorkloads(t *testing.T) {
	ns := namespace(t)
	site := kubernetesSite(t, "site", siteA, 50)
	web := testWorkload(ns, "web", site.Name)
	casework := testWorkload(ns, "casework", site.Name)
	casework.Spec.Classification = estatev1.OfficialSensitive
	casework.Spec.Zone = "data"
	casework.Spec.Resources = estatev1.WorkloadResources{CPU: resource.MustParse("2"), Memory: resource.MustParse("2Gi")}
	create(t, web)
	create(t, casework)
	waitFor(t, k8s, web, "web Provisioned=True", applied)
	waitFor(t, k8s, casework, "casework Provisioned=True", applied)

	siteNamespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	waitFor(t, siteA.client, siteNamespace, "labels aggregated over both workloads", func(n *corev1.Namespace) bool {
		return n.Labels[provisioning.LabelClassification] == "OFFICIAL-SENSITIVE" && n.Labels[provisioning.LabelZone] == "mixed"
	})
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "estate"}}
	waitFor(t, siteA.client, quota, "quota summed over both workloads", func(q *corev1.ResourceQuota) bool {
		cpu, memory := q.Spec.Hard[corev1.ResourceRequestsCPU], q.Spec.Hard[corev1.ResourceRequestsMemory]
		return cpu.Cmp(resource.MustParse("3")) == 0 && memory.Cmp(resource.MustParse("3Gi")) == 0
	})

	remove(t, web)
	waitGone(t, k8s, web, eventually)
	waitEvent(t, web, corev1.EventTypeNormal, "Removed", "Removed 3 objects from hosting site "+site.Name+". Kept LimitRange "+ns+"/estate, ResourceQuota "+ns+"/estate, Namespace "+ns+",")
	for _, name := range []string{"web-api", "web-worker"} {
		waitDeleted(t, siteA.client, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
	}
	waitDeleted(t, siteA.client, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}})
	assertExists(t, siteA.client, siteNamespace)
	assertExists(t, siteA.client, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "casework-api"}})
	waitFor(t, siteA.client, quota, "quota of casework alone", func(q *corev1.ResourceQuota) bool {
		cpu := q.Spec.Hard[corev1.ResourceRequestsCPU]
		return cpu.Cmp(resource.MustParse("2")) == 0
	})
	waitFor(t, siteA.client, siteNamespace, "zone of casework alone", func(n *corev1.Namespace) bool {
		return n.Labels[provisioning.LabelZone] == "data"
	})

	remove(t, casework)
	waitGone(t, k8s, casework, eventually)
	waitDeleted(t, siteA.client, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "casework-api"}})
	waitDeleted(t, siteA.client, &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "estate"}})
	waitDeleted(t, siteA.client, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "estate"}})
	waitDeleted(t, siteA.client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
}

func TestMoveKeepsOldSiteUntilNewSiteAccepts(t *testing.T) {
	ns := namespace(t)
	first := kubernetesSite(t, "first", siteA, 10)
	// The second site's kubeconfig Secret is created later, so at first it
	// cannot accept the workload.
	second := kubernetesSite(t, "second", nil, 90)
	w := testWorkload(ns, "asylum", first.Name, second.Name)
	create(t, w)
	waitFor(t, k8s, w, "Provisioned=True on the first site", applied)

	patch := client.MergeFrom(first.DeepCopy())
	first.Spec.Unschedulable = true
	if err := k8s.Patch(context.Background(), first, patch); err != nil {
		t.Fatalf("cordoning the first site: %v", err)
	}
	waitFor(t, k8s, w, "Provisioned=False with reason NoConnection on the second site", func(w *estatev1.Workload) bool {
		return w.Status.Placement != nil && w.Status.Placement.Site == second.Name &&
			condition(estatev1.ReasonNoConnection, metav1.ConditionFalse)(w)
	})
	if !strings.Contains(provisionedMessage(w), second.Name) {
		t.Errorf("NoConnection message %q does not name the second site", provisionedMessage(w))
	}
	assertExists(t, siteA.client, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "asylum-api"}})
	for _, o := range w.Status.Provisioning.Objects {
		if o.Site != first.Name {
			t.Errorf("status records %s %s on %s before the second site accepted anything", o.Kind, o.Name, o.Site)
		}
	}

	createKubeconfigSecret(t, second.Name, siteB)
	waitFor(t, k8s, w, "Provisioned=True on the second site", func(w *estatev1.Workload) bool {
		return applied(w) && w.Status.Provisioning.Site == second.Name
	})
	assertExists(t, siteB.client, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "asylum-api"}})
	waitDeleted(t, siteA.client, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "asylum-api"}})
	waitDeleted(t, siteA.client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	waitFor(t, k8s, w, "only second-site objects recorded", func(w *estatev1.Workload) bool {
		for _, o := range w.Status.Provisioning.Objects {
			if o.Site != second.Name {
				return false
			}
		}
		return len(w.Status.Provisioning.Objects) == 6 && len(w.Status.Provisioning.LeftBehind) == 0
	})
	waitEvent(t, w, corev1.EventTypeNormal, "Removed", "from hosting site "+first.Name+" after the move to "+second.Name)
}

func TestDeletionFromUnreachableSiteIsBounded(t *testing.T) {
	ns := namespace(t)
	site := kubernetesSite(t, "doomed", doomed, 50)
	w := testWorkload(ns, "pnc", site.Name)
	create(t, w)
	waitFor(t, k8s, w, "Provisioned=True", applied)

	if err := doomed.env.Stop(); err != nil {
		t.Fatalf("stopping the site's API server: %v", err)
	}
	start := time.Now()
	remove(t, w)

	waitFor(t, k8s, w, "Provisioned=False with reason SiteUnreachable and objects left behind", func(w *estatev1.Workload) bool {
		c := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionProvisioned)
		return c != nil && c.Reason == estatev1.ReasonSiteUnreachable && w.Status.Provisioning != nil && len(w.Status.Provisioning.LeftBehind) == 6
	})
	if !strings.Contains(provisionedMessage(w), site.Name) {
		t.Errorf("SiteUnreachable message %q does not name the site", provisionedMessage(w))
	}
	if !strings.Contains(provisionedMessage(w), "Deployment "+ns+"/pnc-api") {
		t.Errorf("SiteUnreachable message %q does not name what is left behind", provisionedMessage(w))
	}

	// The bound counts from the deletionTimestamp, which has one-second
	// resolution, and ten seconds more cover the last retry and the cache.
	waitGone(t, k8s, w, testDeletionTimeout+10*time.Second)
	took := time.Since(start)
	t.Logf("deletion finished %s after the delete request, with a bound of %s", took.Round(10*time.Millisecond), testDeletionTimeout)
	// The truncated deletionTimestamp can make the operator give up up to a
	// second early, so only a much earlier end counts as a failure.
	if took < testDeletionTimeout/2 {
		t.Errorf("deletion finished after %s, before the %s bound: the operator gave up early", took, testDeletionTimeout)
	}
	note := waitEvent(t, w, corev1.EventTypeWarning, "LeftBehind", "")
	for _, want := range []string{site.Name, "Deployment " + ns + "/pnc-api", "Namespace " + ns} {
		if !strings.Contains(note, want) {
			t.Errorf("LeftBehind note %q does not contain %q", note, want)
		}
	}
}

func TestCloudSiteRecordsPlan(t *testing.T) {
	ns := namespace(t)
	site := testSite(t, "cloud", 50)
	site.Spec.Connection = &estatev1.SiteConnection{PulumiStack: "home-office/estate/" + site.Name}
	create(t, site)
	w := testWorkload(ns, "eta", site.Name)
	create(t, w)

	waitFor(t, k8s, w, "Provisioned=False with reason PlanOnly", condition(estatev1.ReasonPlanOnly, metav1.ConditionFalse))
	want := plannedFor(site, w)
	if diff := cmp.Diff(want, w.Status.Provisioning.PlannedResources); diff != "" {
		t.Errorf("planned resources differ (-want +got):\n%s", diff)
	}
	wantMessage := fmt.Sprintf("No Pulumi engine or credentials are configured; nothing was applied. Planned 2 resources for stack %s.", site.Spec.Connection.PulumiStack)
	if got := provisionedMessage(w); got != wantMessage {
		t.Errorf("message = %q, want %q", got, wantMessage)
	}
	if hasFinalizer(w) {
		t.Errorf("plan-only workload holds the provisioning finalizer, although nothing was applied")
	}
}

func TestSiteWithoutConnection(t *testing.T) {
	ns := namespace(t)
	site := testSite(t, "bare", 50)
	create(t, site)
	w := testWorkload(ns, "bare", site.Name)
	create(t, w)

	waitFor(t, k8s, w, "Provisioned=False with reason NoConnection", condition(estatev1.ReasonNoConnection, metav1.ConditionFalse))
	message := provisionedMessage(w)
	for _, want := range []string{site.Name, "spec.connection.kubeconfigSecretRef", "spec.connection.pulumiStack"} {
		if !strings.Contains(message, want) {
			t.Errorf("message %q does not contain %q", message, want)
		}
	}
}

func TestRejectedObjectIsReported(t *testing.T) {
	ns := namespace(t)
	site := kubernetesSite(t, "site", siteA, 50)
	w := testWorkload(ns, "biometrics", site.Name)
	w.Annotations = map[string]string{policyAnnotation: "invalid"}
	create(t, w)

	waitFor(t, k8s, w, "Provisioned=False with reason ApplyFailed", condition(estatev1.ReasonApplyFailed, metav1.ConditionFalse))
	message := provisionedMessage(w)
	if !strings.Contains(message, "NetworkPolicy "+ns+"/biometrics-invalid") {
		t.Errorf("message %q does not name the rejected network policy", message)
	}
	if !strings.Contains(message, "accepted 6 of 7 objects") {
		t.Errorf("message %q does not count the accepted objects", message)
	}
	assertExists(t, siteA.client, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "biometrics-api"}})
	waitEvent(t, w, corev1.EventTypeWarning, estatev1.ReasonApplyFailed, "biometrics-invalid")

	// Fixing the input recovers on the next reconcile.
	patch := client.MergeFrom(w.DeepCopy())
	w.Annotations[policyAnnotation] = "deny-all"
	if err := k8s.Patch(context.Background(), w, patch); err != nil {
		t.Fatalf("fixing the policy annotation: %v", err)
	}
	waitFor(t, k8s, w, "Provisioned=True after the fix", applied)
}

func TestResyncOfUnchangedWorkloadWritesNothing(t *testing.T) {
	ns := namespace(t)
	site := kubernetesSite(t, "site", siteA, 50)
	w := testWorkload(ns, "records", site.Name)
	create(t, w)
	waitFor(t, k8s, w, "Provisioned=True", applied)
	api := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "records-api"}}
	assertExists(t, siteA.client, api)
	workloadVersion, deploymentVersion := w.ResourceVersion, api.ResourceVersion

	// Two resyncs pass; neither may rewrite the status or the site's objects.
	time.Sleep(2*testResync + 500*time.Millisecond)

	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(w), w); err != nil {
		t.Fatal(err)
	}
	if w.ResourceVersion != workloadVersion {
		t.Errorf("workload resourceVersion moved from %s to %s: a resync rewrote an unchanged status", workloadVersion, w.ResourceVersion)
	}
	assertExists(t, siteA.client, api)
	if api.ResourceVersion != deploymentVersion {
		t.Errorf("deployment resourceVersion moved from %s to %s: a resync rewrote an object in sync", deploymentVersion, api.ResourceVersion)
	}
}

func TestRemovedComponentIsDeletedFromSite(t *testing.T) {
	ns := namespace(t)
	site := kubernetesSite(t, "site", siteA, 50)
	w := testWorkload(ns, "fees", site.Name)
	create(t, w)
	waitFor(t, k8s, w, "Provisioned=True", applied)

	patch := client.MergeFrom(w.DeepCopy())
	w.Spec.Components = w.Spec.Components[:1]
	if err := k8s.Patch(context.Background(), w, patch); err != nil {
		t.Fatalf("removing the worker component: %v", err)
	}
	waitDeleted(t, siteA.client, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fees-worker"}})
	assertExists(t, siteA.client, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fees-api"}})
	waitFor(t, k8s, w, "five objects recorded", func(w *estatev1.Workload) bool {
		return applied(w) && len(w.Status.Provisioning.Objects) == 5
	})
	for _, o := range w.Status.Provisioning.Objects {
		if o.Name == "fees-worker" {
			t.Errorf("status still records the removed component's deployment: %+v", o)
		}
	}
	waitEvent(t, w, corev1.EventTypeNormal, "Removed", "no longer declares")
}
