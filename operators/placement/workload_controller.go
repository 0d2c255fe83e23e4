// Package placement holds the placement operator: it places each Workload on
// a HostingSite with the engine in internal/placement, reserves the
// workload's capacity on that site, and cordons sites that are deleted.
package placement

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/placement"
	"github.com/ukhomeoffice/estate/internal/placement/fromapi"
)

// conflictRetry is the delay before a reconcile that lost an optimistic-lock
// race on a HostingSite retries. By then the cache has usually caught up.
const conflictRetry = 200 * time.Millisecond

// WorkloadReconciler places Workloads.
type WorkloadReconciler struct {
	Client   ctrl.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
}

// Reconcile reads the workload and the sites, calls the engine for a
// decision, moves the workload's reservation to the chosen site and writes
// the decision to status.
func (r *WorkloadReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	w := &estatev1.Workload{}
	if err := r.Client.Get(ctx, req.NamespacedName, w); err != nil {
		return reconcile.Result{}, ctrl.IgnoreNotFound(err)
	}

	if !w.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, w)
	}
	if controllerutil.AddFinalizer(w, estatev1.PlacementFinalizer) {
		if err := r.Client.Update(ctx, w); err != nil {
			return requeueOnConflict(err)
		}
	}

	sites := &estatev1.HostingSiteList{}
	if err := r.Client.List(ctx, sites); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing hosting sites: %w", err)
	}

	enclaves := &estatev1.EnclaveList{}
	if err := r.Client.List(ctx, enclaves); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing enclaves: %w", err)
	}

	status := w.Status.DeepCopy()
	status.ObservedGeneration = w.Generation

	input, err := fromapi.Workload(w)
	if err != nil {
		// The schema checks the date's form, so this is a terminal spec error.
		setPlaced(status, w.Generation, metav1False, estatev1.ReasonInvalidSpec, err.Error())
		if err := r.patchStatus(ctx, w, status); err != nil {
			return reconcile.Result{}, err
		}
		return reconcile.Result{}, reconcile.TerminalError(err)
	}

	key := fromapi.Key(w)
	decision := placement.Place(input, fromapi.Sites(sites.Items, enclaves.Items, key), r.Clock.Now())
	target := decision.Site
	stranded := target == "" && strandedOn(decision, input.CurrentSite)
	if stranded {
		// The current site is cordoned or being deleted and nothing else
		// qualifies. Keep the workload there and report it in a condition
		// rather than drop it.
		target = input.CurrentSite
	}

	if target != "" {
		site := findSite(sites.Items, target)
		if err := r.reserve(ctx, site, w); err != nil {
			return requeueOnConflict(err)
		}
	}
	if err := r.releaseAllExcept(ctx, sites.Items, w, target); err != nil {
		return requeueOnConflict(err)
	}

	applyDecision(status, w.Generation, decision, stranded, findSite(sites.Items, target))
	previous := ""
	if w.Status.Placement != nil {
		previous = w.Status.Placement.Site
	}
	if err := r.patchStatus(ctx, w, status); err != nil {
		return requeueOnConflict(err)
	}
	if previous != target {
		r.recordMove(w, previous, target, decision)
	}
	return reconcile.Result{RequeueAfter: untilExpiry(input, r.Clock.Now())}, nil
}

// untilExpiry returns how long until the workload's cloud-first exception
// expires, so the decision is revisited then; zero when there is none.
func untilExpiry(w placement.Workload, now time.Time) time.Duration {
	if w.Exception == nil || !w.Exception.Expires.After(now) {
		return 0
	}
	return w.Exception.Expires.Sub(now)
}

// reconcileDelete releases the workload's reservations, then its finalizer.
func (r *WorkloadReconciler) reconcileDelete(ctx context.Context, w *estatev1.Workload) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(w, estatev1.PlacementFinalizer) {
		return reconcile.Result{}, nil
	}
	sites := &estatev1.HostingSiteList{}
	if err := r.Client.List(ctx, sites); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing hosting sites: %w", err)
	}
	if err := r.releaseAllExcept(ctx, sites.Items, w, ""); err != nil {
		return requeueOnConflict(err)
	}
	controllerutil.RemoveFinalizer(w, estatev1.PlacementFinalizer)
	if err := r.Client.Update(ctx, w); err != nil {
		return requeueOnConflict(ctrl.IgnoreNotFound(err))
	}
	log.FromContext(ctx).V(1).Info("Released workload reservations", "workload", klog.KObj(w))
	return reconcile.Result{}, nil
}

// reserve records the workload's capacity on the site. The status update
// carries the resourceVersion the decision was made from, so a concurrent
// reservation makes it fail with a conflict instead of oversubscribing.
func (r *WorkloadReconciler) reserve(ctx context.Context, site *estatev1.HostingSite, w *estatev1.Workload) error {
	want := fromapi.Reservation(w)
	updated := site.DeepCopy()
	found := false
	for i, res := range updated.Status.Reservations {
		if res.Workload != want.Workload {
			continue
		}
		found = true
		if equality.Semantic.DeepEqual(res, want) {
			return nil
		}
		updated.Status.Reservations[i] = want
	}
	if !found {
		updated.Status.Reservations = append(updated.Status.Reservations, want)
	}
	updated.Status.Allocated = fromapi.Allocation(updated.Status.Reservations)
	if err := r.Client.Status().Update(ctx, updated); err != nil {
		return fmt.Errorf("reserving capacity on hosting site %s: %w", site.Name, err)
	}
	*site = *updated
	return nil
}

// releaseAllExcept removes the workload's reservation from every site but keep.
func (r *WorkloadReconciler) releaseAllExcept(ctx context.Context, sites []estatev1.HostingSite, w *estatev1.Workload, keep string) error {
	key := fromapi.Key(w)
	for i := range sites {
		site := &sites[i]
		if site.Name == keep {
			continue
		}
		kept := make([]estatev1.Reservation, 0, len(site.Status.Reservations))
		for _, res := range site.Status.Reservations {
			if res.Workload != key {
				kept = append(kept, res)
			}
		}
		if len(kept) == len(site.Status.Reservations) {
			continue
		}
		updated := site.DeepCopy()
		updated.Status.Reservations = kept
		updated.Status.Allocated = fromapi.Allocation(kept)
		if err := r.Client.Status().Update(ctx, updated); err != nil {
			return fmt.Errorf("releasing capacity on hosting site %s: %w", site.Name, err)
		}
		*site = *updated
	}
	return nil
}

// patchStatus writes status only when it changed, so reconciling an
// unchanged workload writes nothing.
func (r *WorkloadReconciler) patchStatus(ctx context.Context, w *estatev1.Workload, status *estatev1.WorkloadStatus) error {
	if equality.Semantic.DeepEqual(&w.Status, status) {
		return nil
	}
	base := w.DeepCopy()
	w.Status = *status
	if err := r.Client.Status().Patch(ctx, w, ctrl.MergeFromWithOptions(base, ctrl.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("writing workload status: %w", err)
	}
	return nil
}

func (r *WorkloadReconciler) recordMove(w *estatev1.Workload, from, to string, d placement.Decision) {
	if r.Recorder == nil {
		return
	}
	switch {
	case to == "":
		r.Recorder.Eventf(w, nil, "Warning", string(d.Reason), "Place", "No site placed: %s", d.Message)
	case from == "":
		r.Recorder.Eventf(w, nil, "Normal", string(d.Reason), "Place", "Placed on %s: %s", to, d.Message)
	default:
		r.Recorder.Eventf(w, nil, "Normal", string(d.Reason), "Place", "Moved from %s to %s: %s", from, to, d.Message)
	}
}

// strandedOn reports whether the workload's current site was removed only
// because it is not ready (cordoned or being deleted).
func strandedOn(d placement.Decision, current string) bool {
	if current == "" {
		return false
	}
	for _, o := range d.Outcomes {
		if o.Site == current {
			return o.Reason == placement.SiteNotReady
		}
	}
	return false
}

func findSite(sites []estatev1.HostingSite, name string) *estatev1.HostingSite {
	for i := range sites {
		if sites[i].Name == name {
			return &sites[i]
		}
	}
	return nil
}

// requeueOnConflict turns an optimistic-lock conflict into a quiet retry and
// passes any other error on.
func requeueOnConflict(err error) (reconcile.Result, error) {
	if err == nil {
		return reconcile.Result{}, nil
	}
	if apierrors.IsConflict(err) {
		return reconcile.Result{RequeueAfter: conflictRetry}, nil
	}
	return reconcile.Result{}, err
}
