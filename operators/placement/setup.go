package placement

import (
	"context"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// placedSiteIndex indexes Workloads by status.placement.site; unplaced
// workloads are indexed under "".
const placedSiteIndex = "status.placement.site"

// Options tune the placement operator.
type Options struct {
	// MaxConcurrentReconciles for Workloads. Reservations are safe at any
	// value because they use optimistic concurrency.
	MaxConcurrentReconciles int
	// Clock decides whether cloud-first exceptions have expired.
	Clock clock.PassiveClock
}

// SetupWithManager registers the Workload and HostingSite reconcilers.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, o Options) error {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.MaxConcurrentReconciles == 0 {
		o.MaxConcurrentReconciles = 4
	}
	err := mgr.GetFieldIndexer().IndexField(ctx, &estatev1.Workload{}, placedSiteIndex, func(obj client.Object) []string {
		w := obj.(*estatev1.Workload)
		if w.Status.Placement == nil {
			return []string{""}
		}
		return []string{w.Status.Placement.Site}
	})
	if err != nil {
		return err
	}

	workloads := &WorkloadReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("placement"),
		Clock:    o.Clock,
	}
	err = ctrl.NewControllerManagedBy(mgr).
		Named("workload-placement").
		For(&estatev1.Workload{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
			deletionPredicate{},
		))).
		Watches(&estatev1.HostingSite{},
			handler.EnqueueRequestsFromMapFunc(affectedWorkloads(mgr.GetClient())),
			builder.WithPredicates(siteChangePredicate{})).
		// Enclave tenancy decides where SECRET work may go.
		Watches(&estatev1.Enclave{},
			handler.EnqueueRequestsFromMapFunc(secretWorkloads(mgr.GetClient())),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles}).
		Complete(workloads)
	if err != nil {
		return err
	}

	sites := &HostingSiteReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader()}
	return ctrl.NewControllerManagedBy(mgr).
		Named("hostingsite").
		For(&estatev1.HostingSite{}).
		Complete(sites)
}

// affectedWorkloads maps a site change to the workloads placed on it and the
// workloads that have no site yet and may now fit.
func affectedWorkloads(c client.Reader) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		var requests []reconcile.Request
		for _, site := range []string{obj.GetName(), ""} {
			list := &estatev1.WorkloadList{}
			if err := c.List(ctx, list, client.MatchingFields{placedSiteIndex: site}); err != nil {
				ctrl.LoggerFrom(ctx).Error(err, "Listing workloads for a hosting site change failed", "site", obj.GetName())
				continue
			}
			for i := range list.Items {
				requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
			}
		}
		return requests
	}
}

// secretWorkloads maps an enclave change to every SECRET workload, because
// tenancy decides which enclave sites each may use.
func secretWorkloads(c client.Reader) handler.MapFunc {
	return func(ctx context.Context, _ client.Object) []reconcile.Request {
		list := &estatev1.WorkloadList{}
		if err := c.List(ctx, list); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing workloads for an enclave change failed")
			return nil
		}
		var requests []reconcile.Request
		for i := range list.Items {
			if list.Items[i].Spec.Classification == estatev1.Secret {
				requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
			}
		}
		return requests
	}
}

// siteChangePredicate passes site events that can change a placement: a new
// site, a spec change, the start of deletion, or capacity given back. Plain
// reservation growth does not, so workloads are not re-placed for every
// reservation another workload makes.
type siteChangePredicate struct{ predicate.Funcs }

func (siteChangePredicate) Create(event.CreateEvent) bool   { return true }
func (siteChangePredicate) Delete(event.DeleteEvent) bool   { return true }
func (siteChangePredicate) Generic(event.GenericEvent) bool { return false }
func (siteChangePredicate) Update(e event.UpdateEvent) bool {
	before, ok1 := e.ObjectOld.(*estatev1.HostingSite)
	after, ok2 := e.ObjectNew.(*estatev1.HostingSite)
	if !ok1 || !ok2 {
		return false
	}
	return before.Generation != after.Generation ||
		before.DeletionTimestamp.IsZero() != after.DeletionTimestamp.IsZero() ||
		len(after.Status.Reservations) < len(before.Status.Reservations)
}

// deletionPredicate passes updates that start a workload's deletion.
type deletionPredicate struct{ predicate.Funcs }

func (deletionPredicate) Update(e event.UpdateEvent) bool {
	return e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
}
