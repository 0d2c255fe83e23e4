package placement

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/placement/fromapi"
)

// HostingSiteReconciler keeps a site's Ready condition and allocation true,
// drops reservations whose workload no longer exists, and holds a deleted
// site until no workload is placed on it.
type HostingSiteReconciler struct {
	Client ctrl.Client
	// APIReader reads workloads past the cache, so a reservation made a
	// moment ago is never taken for a leak.
	APIReader ctrl.Reader
}

// Reconcile brings one HostingSite's status up to date.
func (r *HostingSiteReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	site := &estatev1.HostingSite{}
	if err := r.Client.Get(ctx, req.NamespacedName, site); err != nil {
		return reconcile.Result{}, ctrl.IgnoreNotFound(err)
	}
	if site.DeletionTimestamp.IsZero() && controllerutil.AddFinalizer(site, estatev1.PlacementFinalizer) {
		if err := r.Client.Update(ctx, site); err != nil {
			return requeueOnConflict(err)
		}
	}

	kept, err := r.liveReservations(ctx, site.Status.Reservations)
	if err != nil {
		return reconcile.Result{}, err
	}

	status := site.Status.DeepCopy()
	status.ObservedGeneration = site.Generation
	status.Reservations = kept
	status.Allocated = fromapi.Allocation(kept)
	meta.SetStatusCondition(&status.Conditions, readyCondition(site, kept))

	if !equality.Semantic.DeepEqual(&site.Status, status) {
		updated := site.DeepCopy()
		updated.Status = *status
		if err := r.Client.Status().Update(ctx, updated); err != nil {
			return requeueOnConflict(err)
		}
		site = updated
	}

	if !site.DeletionTimestamp.IsZero() && len(kept) == 0 && controllerutil.RemoveFinalizer(site, estatev1.PlacementFinalizer) {
		if err := r.Client.Update(ctx, site); err != nil {
			return requeueOnConflict(ctrl.IgnoreNotFound(err))
		}
	}
	return reconcile.Result{}, nil
}

// liveReservations drops reservations whose workload is gone or was
// recreated with a new UID; anything else would leak capacity forever.
func (r *HostingSiteReconciler) liveReservations(ctx context.Context, rs []estatev1.Reservation) ([]estatev1.Reservation, error) {
	kept := make([]estatev1.Reservation, 0, len(rs))
	for _, res := range rs {
		namespace, name, ok := strings.Cut(res.Workload, "/")
		if !ok {
			continue
		}
		w := &estatev1.Workload{}
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, w)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("checking reservation holder %s: %w", res.Workload, err)
		case res.UID != "" && string(w.UID) != res.UID:
			continue
		}
		kept = append(kept, res)
	}
	return kept, nil
}

func readyCondition(site *estatev1.HostingSite, rs []estatev1.Reservation) metav1.Condition {
	c := metav1.Condition{
		Type:               estatev1.ConditionReady,
		Status:             metav1.ConditionTrue,
		Reason:             estatev1.ReasonAvailable,
		Message:            "The site is taking workloads.",
		ObservedGeneration: site.Generation,
	}
	switch {
	case !site.DeletionTimestamp.IsZero():
		c.Status, c.Reason = metav1.ConditionFalse, estatev1.ReasonDeleting
		c.Message = "The site is being deleted and takes no workloads." + holders(rs)
	case site.Spec.Unschedulable:
		c.Status, c.Reason = metav1.ConditionFalse, estatev1.ReasonCordoned
		c.Message = "The site is cordoned and takes no workloads." + holders(rs)
	}
	return c
}

// holders names up to five workloads still placed on a site.
func holders(rs []estatev1.Reservation) string {
	if len(rs) == 0 {
		return ""
	}
	names := make([]string, 0, len(rs))
	for _, res := range rs {
		names = append(names, res.Workload)
	}
	sort.Strings(names)
	more := ""
	if len(names) > 5 {
		more = fmt.Sprintf(" and %d more", len(names)-5)
		names = names[:5]
	}
	return fmt.Sprintf(" %d workloads still placed here (%s%s) move as soon as another site is eligible.", len(rs), strings.Join(names, ", "), more)
}
