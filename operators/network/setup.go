package network

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// conflictRetry is the delay before a reconcile that lost an
// optimistic-lock race retries.
const conflictRetry = 200 * time.Millisecond

// SetupWithManager registers the network reconciler. Workload, site and
// enclave changes all map to every Network.
func SetupWithManager(mgr ctrl.Manager) error {
	toNetworks := handler.EnqueueRequestsFromMapFunc(allNetworks(mgr.GetClient()))
	return ctrl.NewControllerManagedBy(mgr).
		Named("network").
		For(&estatev1.Network{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&estatev1.HostingSite{}, toNetworks, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&estatev1.Enclave{}, toNetworks, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&estatev1.Workload{}, toNetworks, builder.WithPredicates(workloadNetworkPredicate{})).
		// One worker: each reconcile covers the whole estate.
		WithOptions(controller.Options{MaxConcurrentReconciles: 1}).
		Complete(&Reconciler{Client: mgr.GetClient()})
}

func allNetworks(c client.Reader) handler.MapFunc {
	return func(ctx context.Context, _ client.Object) []reconcile.Request {
		list := &estatev1.NetworkList{}
		if err := c.List(ctx, list); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing networks failed")
			return nil
		}
		requests := make([]reconcile.Request, 0, len(list.Items))
		for i := range list.Items {
			requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return requests
	}
}

// workloadNetworkPredicate passes workload events that change the address
// plan or the policy: creation, deletion, a spec change, or a new site.
type workloadNetworkPredicate struct{ predicate.Funcs }

func (workloadNetworkPredicate) Create(event.CreateEvent) bool   { return true }
func (workloadNetworkPredicate) Delete(event.DeleteEvent) bool   { return true }
func (workloadNetworkPredicate) Generic(event.GenericEvent) bool { return false }
func (workloadNetworkPredicate) Update(e event.UpdateEvent) bool {
	before, ok1 := e.ObjectOld.(*estatev1.Workload)
	after, ok2 := e.ObjectNew.(*estatev1.Workload)
	if !ok1 || !ok2 {
		return false
	}
	return before.Generation != after.Generation || site(before) != site(after) ||
		before.DeletionTimestamp.IsZero() != after.DeletionTimestamp.IsZero()
}

func site(w *estatev1.Workload) string {
	if w.Status.Placement == nil {
		return ""
	}
	return w.Status.Placement.Site
}

func requeueOnConflict(err error) (reconcile.Result, error) {
	if err == nil {
		return reconcile.Result{}, nil
	}
	if apierrors.IsConflict(err) {
		return reconcile.Result{RequeueAfter: conflictRetry}, nil
	}
	return reconcile.Result{}, err
}
