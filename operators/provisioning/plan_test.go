package provisioning

import (
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

type failingPlanner struct{}

func (failingPlanner) Plan(context.Context, *estatev1.HostingSite, *estatev1.Workload) ([]estatev1.PlannedResource, error) {
	return nil, errors.New("stack not found")
}

// reconcileCloudWorkload reconciles a workload placed on a cloud site with
// planner, against a fake client, and returns the workload afterwards.
func reconcileCloudWorkload(t *testing.T, planner Planner) (*estatev1.Workload, error) {
	t.Helper()
	site := &estatev1.HostingSite{
		ObjectMeta: metav1.ObjectMeta{Name: "aws-london"},
		Spec: estatev1.HostingSiteSpec{
			Tier:       estatev1.TierPublicCloud,
			Connection: &estatev1.SiteConnection{PulumiStack: "home-office/estate/aws-london"},
		},
	}
	w := testWorkload("border", "eta", site.Name)
	w.Generation = 3
	w.Status.Placement = &estatev1.Placement{Site: site.Name}
	w.Status.Conditions = []metav1.Condition{{
		Type: estatev1.ConditionPlaced, Status: metav1.ConditionTrue, Reason: estatev1.ReasonSiteChosen,
		LastTransitionTime: metav1.Now(),
	}}
	c := fake.NewClientBuilder().
		WithScheme(testScheme()).
		WithObjects(site, w).
		WithStatusSubresource(&estatev1.Workload{}).
		Build()
	r := &WorkloadReconciler{Client: c, Planner: planner, ResyncPeriod: testResync, CallTimeout: testCallTimeout}

	_, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(w)})
	got := &estatev1.Workload{}
	if getErr := c.Get(context.Background(), client.ObjectKeyFromObject(w), got); getErr != nil {
		t.Fatalf("reading the workload back: %v", getErr)
	}
	return got, err
}

func TestCloudSiteWithoutPlanner(t *testing.T) {
	w, err := reconcileCloudWorkload(t, nil)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	c := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionProvisioned)
	if c == nil {
		t.Fatal("no Provisioned condition")
	}
	if c.Status != metav1.ConditionFalse || c.Reason != estatev1.ReasonNoConnection {
		t.Errorf("Provisioned = %s/%s, want False/NoConnection", c.Status, c.Reason)
	}
	if c.ObservedGeneration != 3 {
		t.Errorf("observedGeneration = %d, want 3", c.ObservedGeneration)
	}
	for _, want := range []string{"aws-london", "home-office/estate/aws-london", "no planner configured"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("message %q does not contain %q", c.Message, want)
		}
	}
	if w.Status.Provisioning != nil && len(w.Status.Provisioning.PlannedResources) > 0 {
		t.Errorf("planned resources recorded without a planner: %+v", w.Status.Provisioning.PlannedResources)
	}
}

func TestCloudSitePlannerFailure(t *testing.T) {
	w, err := reconcileCloudWorkload(t, failingPlanner{})
	if err == nil || !strings.Contains(err.Error(), "stack not found") {
		t.Errorf("Reconcile error = %v, want the planner's error so the request is retried", err)
	}
	c := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionProvisioned)
	if c == nil {
		t.Fatal("no Provisioned condition")
	}
	if c.Status != metav1.ConditionFalse || c.Reason != estatev1.ReasonApplyFailed {
		t.Errorf("Provisioned = %s/%s, want False/ApplyFailed", c.Status, c.Reason)
	}
	if !strings.Contains(c.Message, "stack not found") || !strings.Contains(c.Message, "Nothing was applied") {
		t.Errorf("message %q does not give the planner's error and say nothing was applied", c.Message)
	}
}
