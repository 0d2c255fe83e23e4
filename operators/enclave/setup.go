// Package enclave holds the Tier 2 enclave operator. For each Enclave it
// applies the tenant namespaces, quotas, role bindings and Admin tier
// ClusterNetworkPolicies that internal/enclave builds to every site of the
// enclave with server-side apply. It then verifies each control against
// what it reads back from the site, and reports one condition per control
// and Ready.
package enclave

import (
	"context"
	"slices"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// SiteInspector checks the controls that live in a site's API server
// configuration rather than in objects: how it stores Secrets and whether
// it audits requests. Each method returns whether the control holds and a
// message saying what was seen, or an error when the check itself failed,
// which leaves the control Unknown.
type SiteInspector interface {
	// EncryptionAtRest reports whether the site's API server stores
	// Secrets encrypted.
	EncryptionAtRest(ctx context.Context, site string) (bool, string, error)
	// AuditLogging reports whether the site's API server records requests
	// in an audit log.
	AuditLogging(ctx context.Context, site string) (bool, string, error)
}

// Options tune the enclave operator.
type Options struct {
	// Inspectors check EncryptionAtRest and AuditLogging, keyed by
	// HostingSite name. On a site without one both conditions are Unknown
	// with reason NotVerifiable, so the enclave is not Ready.
	Inspectors map[string]SiteInspector
	// DefaultInspector checks sites that have no entry in Inspectors, such
	// as every site of the local control plane.
	DefaultInspector SiteInspector
	// VerifyInterval is how often an enclave whose controls all hold is
	// verified again. Zero means 5 minutes.
	VerifyInterval time.Duration
	// RecheckInterval is the wait before the next verification after a
	// control did not hold or could not be checked. Zero means 15 seconds.
	RecheckInterval time.Duration
	// SiteTimeout bounds the work on one site in one reconcile. Zero means
	// 1 minute.
	SiteTimeout time.Duration
	// MaxConcurrentReconciles for Enclaves. Zero means 2.
	MaxConcurrentReconciles int
}

func (o Options) withDefaults() Options {
	if o.VerifyInterval <= 0 {
		o.VerifyInterval = 5 * time.Minute
	}
	if o.RecheckInterval <= 0 {
		o.RecheckInterval = 15 * time.Second
	}
	if o.SiteTimeout <= 0 {
		o.SiteTimeout = time.Minute
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 2
	}
	return o
}

// SetupWithManager registers the Enclave reconciler. Kubeconfig Secrets are
// read through the manager's API reader, so the operator does not cache
// every Secret of the management cluster.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, o Options) error {
	r := &EnclaveReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("enclave"),
		Options:   o.withDefaults(),
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("enclave").
		For(&estatev1.Enclave{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&estatev1.HostingSite{},
			handler.EnqueueRequestsFromMapFunc(enclavesOnSite(mgr.GetClient())),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.MaxConcurrentReconciles}).
		Complete(r)
}

// enclavesOnSite maps a HostingSite change, such as a new accreditation or
// connection, to the enclaves that list the site.
func enclavesOnSite(c client.Reader) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		list := &estatev1.EnclaveList{}
		if err := c.List(ctx, list); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing enclaves for a hosting site change failed", "site", obj.GetName())
			return nil
		}
		var requests []reconcile.Request
		for i := range list.Items {
			if slices.Contains(list.Items[i].Spec.Sites, obj.GetName()) {
				requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
			}
		}
		return requests
	}
}
