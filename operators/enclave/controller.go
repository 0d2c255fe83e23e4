package enclave

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/enclave"
)

// conflictRetry is the delay before a reconcile that lost an
// optimistic-lock race on the Enclave's status retries.
const conflictRetry = 200 * time.Millisecond

// EnclaveReconciler configures and verifies Enclaves on their sites.
type EnclaveReconciler struct {
	Client client.Client
	// APIReader reads kubeconfig Secrets past the cache.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Options   Options

	clientsMu sync.Mutex
	// clients caches one client per site, keyed by site name, so a
	// reconcile reuses connections while the kubeconfig Secret is
	// unchanged.
	clients map[string]cachedClient
}

// Reconcile applies the enclave's objects to each of its sites and verifies
// its controls there. A new spec generation is applied before it is
// verified. Otherwise the site is verified first and then re-applied, so
// drift such as a policy deleted by hand shows as a failed control until the
// next verification after the repair.
func (r *EnclaveReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	e := &estatev1.Enclave{}
	if err := r.Client.Get(ctx, req.NamespacedName, e); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !e.DeletionTimestamp.IsZero() {
		// NOTE: objects already written to the sites stay there, so the
		// controls keep holding until someone removes them on purpose.
		return reconcile.Result{}, nil
	}

	newGeneration := e.Status.ObservedGeneration != e.Generation
	objects, buildErr := enclave.Build(e)

	sites := slices.Clone(e.Spec.Sites)
	slices.Sort(sites)
	sites = slices.Compact(sites)

	var reports []enclave.SiteReport
	var repaired []string
	for _, site := range sites {
		var report enclave.SiteReport
		var didRepair bool
		if buildErr != nil {
			report = enclave.SiteReport{Site: site, Problem: &enclave.Finding{
				Status: metav1.ConditionFalse, Reason: enclave.ReasonInvalidSpec, Message: buildErr.Error(),
			}}
		} else {
			report, didRepair = r.reconcileSite(ctx, e, site, objects, newGeneration)
		}
		reports = append(reports, report)
		if didRepair {
			repaired = append(repaired, site)
		}
	}

	status := e.Status.DeepCopy()
	status.ObservedGeneration = e.Generation
	for _, c := range enclave.Conditions(reports, e.Generation) {
		meta.SetStatusCondition(&status.Conditions, c)
	}
	if err := r.patchStatus(ctx, e, status); err != nil {
		return requeueOnConflict(err)
	}

	if len(repaired) > 0 && r.Recorder != nil {
		r.Recorder.Eventf(e, nil, "Warning", "Reapplied", "Verify",
			"Controls did not hold on %s; the enclave's objects were applied again", strings.Join(repaired, ", "))
	}
	if buildErr != nil {
		// Only a spec change can fix the spec, and that starts a reconcile.
		return reconcile.Result{}, nil
	}
	if ready := meta.FindStatusCondition(status.Conditions, enclave.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue || len(repaired) > 0 {
		return reconcile.Result{RequeueAfter: r.Options.RecheckInterval}, nil
	}
	return reconcile.Result{RequeueAfter: r.Options.VerifyInterval}, nil
}

// reconcileSite applies and verifies one site. It reports whether it
// re-applied the objects after a network control failed.
func (r *EnclaveReconciler) reconcileSite(ctx context.Context, e *estatev1.Enclave, name string, objects *enclave.Objects, applyFirst bool) (enclave.SiteReport, bool) {
	report := enclave.SiteReport{Site: name}
	logger := log.FromContext(ctx).WithValues("site", name)
	ctx, cancel := context.WithTimeout(ctx, r.Options.SiteTimeout)
	defer cancel()

	site, problem := r.accreditedSite(ctx, name)
	if problem != nil {
		report.Problem = problem
		return report, false
	}
	c, err := r.siteClient(ctx, site)
	if err != nil {
		report.Problem = siteProblem(err)
		logger.Error(err, "Connecting to the enclave site failed")
		return report, false
	}

	if applyFirst {
		if err := applyObjects(ctx, c, e, objects); err != nil {
			report.Problem = siteProblem(err)
			logger.Error(err, "Applying the enclave's objects failed", "enclave", klog.KObj(e))
			return report, false
		}
	}
	report.Controls = r.verify(ctx, c, e, name)
	if applyFirst {
		return report, false
	}

	if err := applyObjects(ctx, c, e, objects); err != nil {
		report.Problem = siteProblem(err)
		logger.Error(err, "Applying the enclave's objects failed", "enclave", klog.KObj(e))
		return report, false
	}
	networkFailed := report.Controls[enclave.ConditionNoInternetEgress].Status == metav1.ConditionFalse ||
		report.Controls[enclave.ConditionTenantIsolation].Status == metav1.ConditionFalse
	return report, networkFailed
}

// accreditedSite returns the HostingSite if it exists and is accredited
// SECRET, and otherwise a SiteNotAccredited problem naming it.
func (r *EnclaveReconciler) accreditedSite(ctx context.Context, name string) (*estatev1.HostingSite, *enclave.Finding) {
	site := &estatev1.HostingSite{}
	err := r.Client.Get(ctx, types.NamespacedName{Name: name}, site)
	switch {
	case apierrors.IsNotFound(err):
		return nil, &enclave.Finding{
			Status:  metav1.ConditionFalse,
			Reason:  enclave.ReasonSiteNotAccredited,
			Message: fmt.Sprintf("HostingSite %s not found: create it with accreditation SECRET or remove it from spec.sites", name),
		}
	case err != nil:
		return nil, &enclave.Finding{
			Status:  metav1.ConditionFalse,
			Reason:  enclave.ReasonSiteUnreachable,
			Message: fmt.Sprintf("reading HostingSite %s failed: %v", name, err),
		}
	case site.Spec.Accreditation != estatev1.Secret:
		return nil, &enclave.Finding{
			Status: metav1.ConditionFalse,
			Reason: enclave.ReasonSiteNotAccredited,
			Message: fmt.Sprintf("HostingSite %s is accredited %s, not SECRET: only SECRET sites can host the enclave; remove it from spec.sites",
				name, site.Spec.Accreditation),
		}
	}
	return site, nil
}

// patchStatus writes status only when it changed, so verifying an enclave
// whose controls keep their state writes nothing.
func (r *EnclaveReconciler) patchStatus(ctx context.Context, e *estatev1.Enclave, status *estatev1.EnclaveStatus) error {
	if equality.Semantic.DeepEqual(&e.Status, status) {
		return nil
	}
	base := e.DeepCopy()
	e.Status = *status
	if err := r.Client.Status().Patch(ctx, e, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("writing enclave status: %w", err)
	}
	return nil
}

// requeueOnConflict turns an optimistic-lock conflict into a quiet retry and
// passes any other error on.
func requeueOnConflict(err error) (reconcile.Result, error) {
	if apierrors.IsConflict(err) {
		return reconcile.Result{RequeueAfter: conflictRetry}, nil
	}
	return reconcile.Result{}, err
}
