// Package provisioning holds the provisioning operator: it turns each placed
// Workload into objects on its HostingSite. On a Kubernetes-backed site it
// applies the objects built by internal/provisioning with server-side
// apply, puts back objects changed by hand, and removes them when the
// workload moves or goes. On a cloud site it records the resources that the
// site's Pulumi stack would create.
package provisioning

import (
	"context"
	"errors"
	"fmt"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/provisioning"
)

// conflictRetry is the delay before a reconcile that lost an optimistic-lock
// race on a Workload retries. By then the cache has usually caught up.
const conflictRetry = 200 * time.Millisecond

// WorkloadReconciler provisions placed Workloads on their sites.
type WorkloadReconciler struct {
	Client          client.Client
	Recorder        events.EventRecorder
	Clock           clock.PassiveClock
	Planner         Planner
	Policies        PolicySource
	ResyncPeriod    time.Duration
	DeletionTimeout time.Duration
	CallTimeout     time.Duration

	sites *siteClients
}

// Reconcile provisions one workload on the site it is placed on, or removes
// what was provisioned when the workload is being deleted. A workload that
// is not placed is left as it is.
func (r *WorkloadReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	w := &estatev1.Workload{}
	if err := r.Client.Get(ctx, req.NamespacedName, w); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !w.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, w)
	}

	siteName := placedSite(w)
	if siteName == "" {
		return reconcile.Result{}, nil
	}
	site := &estatev1.HostingSite{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: siteName}, site); err != nil {
		if apierrors.IsNotFound(err) {
			status := w.Status.DeepCopy()
			setProvisioned(status, w.Generation, false, estatev1.ReasonNoConnection,
				fmt.Sprintf("Hosting site %s, where the workload is placed, was not found, so nothing was applied.", siteName))
			return r.finish(ctx, w, status, reconcile.Result{})
		}
		return reconcile.Result{}, fmt.Errorf("reading hosting site %s: %w", siteName, err)
	}

	conn := site.Spec.Connection
	switch {
	case conn != nil && conn.KubeconfigSecretRef != nil:
		return r.reconcileKubernetes(ctx, w, site)
	case conn != nil && conn.PulumiStack != "":
		return r.reconcilePlan(ctx, w, site)
	default:
		status := w.Status.DeepCopy()
		status.Provisioning = provisioningOrNew(status)
		status.Provisioning.PlannedResources = nil
		setProvisioned(status, w.Generation, false, estatev1.ReasonNoConnection, noConnectionMessage(site, status.Provisioning))
		return r.finish(ctx, w, status, reconcile.Result{})
	}
}

// reconcileKubernetes applies the workload's objects to a Kubernetes site.
// Only when the site accepted all of them does it remove the workload's
// objects from other sites and the objects the workload no longer needs.
// connectionRetry is the longest wait before retrying a site whose
// credentials are missing or whose API server did not answer.
const connectionRetry = 5 * time.Second

func (r *WorkloadReconciler) reconcileKubernetes(ctx context.Context, w *estatev1.Workload, site *estatev1.HostingSite) (reconcile.Result, error) {
	resync := reconcile.Result{RequeueAfter: r.ResyncPeriod}
	if controllerutil.AddFinalizer(w, estatev1.ProvisioningFinalizer) {
		if err := r.Client.Update(ctx, w); err != nil {
			return requeueOnConflict(err)
		}
	}
	status := w.Status.DeepCopy()
	status.Provisioning = provisioningOrNew(status)
	status.Provisioning.PlannedResources = nil

	c, err := r.sites.forSite(ctx, site)
	if err != nil {
		var connErr *connectionError
		if !errors.As(err, &connErr) {
			return reconcile.Result{}, err
		}
		// Secrets are not watched, so retry soon: a new site's credentials
		// usually appear within seconds of the site.
		setProvisioned(status, w.Generation, false, estatev1.ReasonNoConnection, fmt.Sprintf("Nothing was applied to hosting site %s: %s.", site.Name, connErr.message))
		return r.finish(ctx, w, status, reconcile.Result{RequeueAfter: min(r.ResyncPeriod, connectionRetry)})
	}

	desired, err := r.desiredObjects(ctx, w, site)
	if err != nil {
		setProvisioned(status, w.Generation, false, estatev1.ReasonApplyFailed, fmt.Sprintf("Building the objects for hosting site %s failed: %v.", site.Name, err))
		if _, patchErr := r.finish(ctx, w, status, reconcile.Result{}); patchErr != nil {
			return reconcile.Result{}, patchErr
		}
		var invalid *invalidWorkloadError
		if errors.As(err, &invalid) {
			// Retrying cannot help until the workload or its namespace
			// changes, and either change reconciles it again.
			return reconcile.Result{}, reconcile.TerminalError(err)
		}
		return reconcile.Result{}, err
	}

	applied := r.applyAll(ctx, c, site.Name, desired, recordedOn(status.Provisioning, site.Name))
	if len(applied.drifted) > 0 {
		r.event(w, "Warning", "DriftCorrected", "Correct", "Restored objects changed on hosting site %s: %s.", site.Name, joinLimited(applied.drifted, eventListLimit))
	}

	records := newRecordSet(status.Provisioning)
	records.keepDesired(site.Name, desired, applied.accepted)
	if applied.complete() {
		r.removeStale(ctx, w, records, site.Name)
	}
	status.Provisioning.Site = site.Name
	status.Provisioning.Objects, status.Provisioning.LeftBehind = records.lists()

	switch {
	case applied.unreachable != nil:
		setProvisioned(status, w.Generation, false, estatev1.ReasonSiteUnreachable, applied.unreachableMessage(site.Name))
	case len(applied.failed) > 0:
		setProvisioned(status, w.Generation, false, estatev1.ReasonApplyFailed, applied.failedMessage(site.Name, len(desired)))
	default:
		setProvisioned(status, w.Generation, true, estatev1.ReasonApplied, appliedMessage(site.Name, len(desired), status.Provisioning.LeftBehind))
	}
	switch {
	case applied.unreachable != nil:
		log.FromContext(ctx).Info("Hosting site unreachable, retrying on the next resync", "workload", klog.KObj(w), "site", site.Name,
			"notApplied", len(applied.notAttempted), "error", applied.unreachable.Error())
	case len(applied.failed) > 0:
		log.FromContext(ctx).Info("Hosting site rejected objects, retrying on the next resync", "workload", klog.KObj(w), "site", site.Name,
			"rejected", len(applied.failed), "firstObject", describe(applied.failed[0].ref), "error", applied.failed[0].err.Error())
	}
	return r.finish(ctx, w, status, resync)
}

// desiredObjects builds the workload's objects for the site, with the
// policies from the PolicySource.
func (r *WorkloadReconciler) desiredObjects(ctx context.Context, w *estatev1.Workload, site *estatev1.HostingSite) ([]client.Object, error) {
	peers, err := r.peersOn(ctx, w.Namespace, site.Name, w.Name)
	if err != nil {
		return nil, err
	}
	var policies []networkingv1.NetworkPolicy
	if r.Policies != nil {
		policies, err = r.Policies.NetworkPolicies(ctx, site, w)
		if err != nil {
			return nil, fmt.Errorf("reading the network policies of workload %s/%s: %w", w.Namespace, w.Name, err)
		}
	}
	objects, err := provisioning.Build(w, peers, policies)
	if err != nil {
		return nil, &invalidWorkloadError{err}
	}
	return objects.List(), nil
}

// invalidWorkloadError means the workload, its namespace's other
// workloads or its network policies cannot be turned into valid objects.
type invalidWorkloadError struct{ err error }

func (e *invalidWorkloadError) Error() string { return e.err.Error() }
func (e *invalidWorkloadError) Unwrap() error { return e.err }

// peersOn lists the workloads of namespace placed on site, except the one
// named exclude and those being deleted.
func (r *WorkloadReconciler) peersOn(ctx context.Context, namespace, site, exclude string) ([]estatev1.Workload, error) {
	list := &estatev1.WorkloadList{}
	if err := r.Client.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing the workloads of namespace %s: %w", namespace, err)
	}
	var peers []estatev1.Workload
	for i := range list.Items {
		p := &list.Items[i]
		if p.Name == exclude || !p.DeletionTimestamp.IsZero() || placedSite(p) != site {
			continue
		}
		peers = append(peers, *p)
	}
	return peers, nil
}

// reconcilePlan records what a cloud site's Pulumi stack would create.
// Objects on an earlier Kubernetes site stay until a site accepts the
// workload, because nothing is applied here.
func (r *WorkloadReconciler) reconcilePlan(ctx context.Context, w *estatev1.Workload, site *estatev1.HostingSite) (reconcile.Result, error) {
	stack := site.Spec.Connection.PulumiStack
	status := w.Status.DeepCopy()
	status.Provisioning = provisioningOrNew(status)
	if r.Planner == nil {
		status.Provisioning.PlannedResources = nil
		setProvisioned(status, w.Generation, false, estatev1.ReasonNoConnection, withKeptObjects(fmt.Sprintf(
			"Hosting site %s is a cloud site with Pulumi stack %s, but the operator has no planner configured, so nothing was planned or applied.",
			site.Name, stack), status.Provisioning))
		return r.finish(ctx, w, status, reconcile.Result{})
	}

	planned, err := r.Planner.Plan(ctx, site, w)
	if err != nil {
		status.Provisioning.PlannedResources = nil
		setProvisioned(status, w.Generation, false, estatev1.ReasonApplyFailed, withKeptObjects(fmt.Sprintf(
			"Planning Pulumi stack %s for hosting site %s failed: %v. Nothing was applied.", stack, site.Name, err), status.Provisioning))
		if _, patchErr := r.finish(ctx, w, status, reconcile.Result{}); patchErr != nil {
			return reconcile.Result{}, patchErr
		}
		return reconcile.Result{}, fmt.Errorf("planning Pulumi stack %s for hosting site %s: %w", stack, site.Name, err)
	}
	status.Provisioning.PlannedResources = planned
	setProvisioned(status, w.Generation, false, estatev1.ReasonPlanOnly, withKeptObjects(fmt.Sprintf(
		"No Pulumi engine or credentials are configured; nothing was applied. Planned %d resources for stack %s.", len(planned), stack),
		status.Provisioning))
	return r.finish(ctx, w, status, reconcile.Result{})
}

// finish writes status when it changed, records an event when the
// Provisioned condition changed, and returns result.
func (r *WorkloadReconciler) finish(ctx context.Context, w *estatev1.Workload, status *estatev1.WorkloadStatus, result reconcile.Result) (reconcile.Result, error) {
	before := provisionedCondition(&w.Status)
	changed, err := r.patchStatus(ctx, w, status)
	if err != nil {
		return requeueOnConflict(err)
	}
	if changed {
		r.recordConditionChange(w, before, provisionedCondition(status))
	}
	return result, nil
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
