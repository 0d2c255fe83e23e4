package provisioning

import (
	"context"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
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

// FieldManager is the server-side apply field manager of every object the
// operator applies to a site.
const FieldManager = "estate-provisioning"

// placedSiteIndex indexes Workloads by status.placement.site. The placement
// operator registers an index of its own on the same field, and an indexer
// takes each name once, so this one has a distinct name.
const placedSiteIndex = "provisioning.status.placement.site"

// Defaults of Options.
const (
	DefaultResyncPeriod    = time.Minute
	DefaultDeletionTimeout = 2 * time.Minute
	DefaultCallTimeout     = 10 * time.Second
)

// Planner returns the resources that a cloud site's Pulumi stack would
// create for a workload, without creating them.
type Planner interface {
	Plan(ctx context.Context, site *estatev1.HostingSite, w *estatev1.Workload) ([]estatev1.PlannedResource, error)
}

// PolicySource returns the NetworkPolicies compiled for a workload on a
// site. The policies are applied with the workload's other objects.
type PolicySource interface {
	NetworkPolicies(ctx context.Context, site *estatev1.HostingSite, w *estatev1.Workload) ([]networkingv1.NetworkPolicy, error)
}

// Options tune the provisioning operator. Zero values take the defaults.
type Options struct {
	// MaxConcurrentReconciles for Workloads; 4 when zero.
	MaxConcurrentReconciles int
	// ResyncPeriod is how often a workload on a Kubernetes site is applied
	// again, which puts back objects changed or deleted on the site.
	ResyncPeriod time.Duration
	// DeletionTimeout bounds how long a deleted workload waits, counted
	// from its deletionTimestamp, for its objects to be removed from a site
	// that cannot be reached. After it the finalizer is removed and the
	// objects are left behind.
	DeletionTimeout time.Duration
	// CallTimeout bounds each request to a site's API server.
	CallTimeout time.Duration
	// Planner plans cloud sites, those with spec.connection.pulumiStack. A
	// nil Planner reports NoConnection for them.
	Planner Planner
	// Policies supplies the NetworkPolicies of each workload; nil applies none.
	Policies PolicySource
	// Clock measures the time since a workload's deletion.
	Clock clock.PassiveClock
}

// SetupWithManager registers the Workload provisioning reconciler.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, o Options) error {
	if o.MaxConcurrentReconciles == 0 {
		o.MaxConcurrentReconciles = 4
	}
	if o.ResyncPeriod == 0 {
		o.ResyncPeriod = DefaultResyncPeriod
	}
	if o.DeletionTimeout == 0 {
		o.DeletionTimeout = DefaultDeletionTimeout
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}

	err := mgr.GetFieldIndexer().IndexField(ctx, &estatev1.Workload{}, placedSiteIndex, func(obj client.Object) []string {
		w := obj.(*estatev1.Workload)
		if w.Status.Placement == nil || w.Status.Placement.Site == "" {
			return nil
		}
		return []string{w.Status.Placement.Site}
	})
	if err != nil {
		return err
	}

	r := &WorkloadReconciler{
		Client:          mgr.GetClient(),
		Recorder:        mgr.GetEventRecorder("provisioning"),
		Clock:           o.Clock,
		Planner:         o.Planner,
		Policies:        o.Policies,
		ResyncPeriod:    o.ResyncPeriod,
		DeletionTimeout: o.DeletionTimeout,
		CallTimeout:     o.CallTimeout,
		sites:           newSiteClients(mgr.GetAPIReader(), o.CallTimeout),
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("workload-provisioning").
		For(&estatev1.Workload{}, builder.WithPredicates(workloadChangePredicate{})).
		// A workload's shared objects depend on the other workloads of its
		// namespace, so a change to one reconciles them all.
		Watches(&estatev1.Workload{},
			handler.EnqueueRequestsFromMapFunc(namespaceWorkloads(mgr.GetClient())),
			builder.WithPredicates(workloadChangePredicate{})).
		Watches(&estatev1.HostingSite{},
			handler.EnqueueRequestsFromMapFunc(placedWorkloads(mgr.GetClient())),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles}).
		Complete(r)
}

// namespaceWorkloads maps a workload to every workload of its namespace.
func namespaceWorkloads(c client.Reader) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		list := &estatev1.WorkloadList{}
		if err := c.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing the workloads of a namespace failed", "namespace", obj.GetNamespace())
			return nil
		}
		requests := make([]reconcile.Request, 0, len(list.Items))
		for i := range list.Items {
			requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return requests
	}
}

// placedWorkloads maps a hosting site to the workloads placed on it.
func placedWorkloads(c client.Reader) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		list := &estatev1.WorkloadList{}
		if err := c.List(ctx, list, client.MatchingFields{placedSiteIndex: obj.GetName()}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing the workloads on a hosting site failed", "site", obj.GetName())
			return nil
		}
		requests := make([]reconcile.Request, 0, len(list.Items))
		for i := range list.Items {
			requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return requests
	}
}

// workloadChangePredicate passes workload events that can change what is
// provisioned: creation and deletion, a spec or annotation change, the
// start of deletion, a new placement, and a change to status.network, where
// the network operator records the workload's policies. The operator's own
// status writes pass none of these, so they do not loop.
type workloadChangePredicate struct{ predicate.Funcs }

func (workloadChangePredicate) Create(event.CreateEvent) bool   { return true }
func (workloadChangePredicate) Delete(event.DeleteEvent) bool   { return true }
func (workloadChangePredicate) Generic(event.GenericEvent) bool { return false }
func (workloadChangePredicate) Update(e event.UpdateEvent) bool {
	before, ok1 := e.ObjectOld.(*estatev1.Workload)
	after, ok2 := e.ObjectNew.(*estatev1.Workload)
	if !ok1 || !ok2 {
		return false
	}
	return before.Generation != after.Generation ||
		before.DeletionTimestamp.IsZero() != after.DeletionTimestamp.IsZero() ||
		!equality.Semantic.DeepEqual(before.Annotations, after.Annotations) ||
		placedSite(before) != placedSite(after) ||
		!equality.Semantic.DeepEqual(before.Status.Network, after.Status.Network)
}

// placedSite returns the site the workload is placed on, or "" when its
// Placed condition is not True.
func placedSite(w *estatev1.Workload) string {
	if w.Status.Placement == nil || !meta.IsStatusConditionTrue(w.Status.Conditions, estatev1.ConditionPlaced) {
		return ""
	}
	return w.Status.Placement.Site
}
