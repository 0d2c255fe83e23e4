package provisioning

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/provisioning"
)

// Bounds of the retry delay while a deleted workload's site is unreachable.
const (
	minDeleteRetry = time.Second
	maxDeleteRetry = 30 * time.Second
)

// siteGoneError means the HostingSite that holds objects no longer exists,
// so there is no kubeconfig to reach it with.
type siteGoneError struct{ site string }

func (e *siteGoneError) Error() string {
	return fmt.Sprintf("hosting site %s no longer exists, so its kubeconfig is unknown", e.site)
}

// removal is the result of removing a workload's objects from one site.
type removal struct {
	site    string
	removed []estatev1.ProvisionedObject
	// released are shared objects left on the site for other workloads of
	// the namespace, or for the other managers of a namespace. The
	// workload no longer records them.
	released  []estatev1.ProvisionedObject
	remaining []estatev1.ProvisionedObject
	// err is the first error that left objects behind.
	err error
}

// keptSentence names the released objects for an event note, with a
// leading space, or returns "" when there are none.
func (r removal) keptSentence() string {
	if len(r.released) == 0 {
		return ""
	}
	return fmt.Sprintf(" Kept %s, which other workloads or field managers still use.", joinLimited(describeAll(r.released), eventListLimit))
}

// unreachable reports whether the objects were left because the site
// could not be reached, not because it rejected the request.
func (r removal) unreachable() bool {
	var connErr *connectionError
	var goneErr *siteGoneError
	return isUnreachable(r.err) || errors.As(r.err, &connErr) || errors.As(r.err, &goneErr)
}

// removeStale removes the recorded objects that the workload no longer
// needs: everything on other sites after a move, and objects on its current
// site that it stopped declaring. It updates records and records an event
// per site.
func (r *WorkloadReconciler) removeStale(ctx context.Context, w *estatev1.Workload, records *recordSet, current string) {
	sites, bySite := records.stale()
	for _, site := range sites {
		res := r.removeFrom(ctx, w, site, bySite[site])
		records.apply(res)
		if len(res.removed)+len(res.released) > 0 {
			if site == current {
				r.event(w, "Normal", "Removed", "Remove", "Removed %d objects that the workload no longer declares from hosting site %s.%s", len(res.removed), site, res.keptSentence())
			} else {
				r.event(w, "Normal", "Removed", "Remove", "Removed %d objects from hosting site %s after the move to %s.%s", len(res.removed), site, current, res.keptSentence())
			}
		}
		if len(res.remaining) > 0 {
			log.FromContext(ctx).Info("Removing objects from a hosting site failed, retrying on the next resync",
				"workload", klog.KObj(w), "site", site, "remaining", len(res.remaining), "error", res.err.Error())
		}
	}
}

// removeFrom removes the workload's objects refs from one site. Objects of
// the workload alone are deleted, Deployments first. The shared Namespace,
// ResourceQuota and LimitRange are deleted only when no other workload of
// the namespace is placed on the site. Otherwise they are applied again
// without this workload's share, and the other workloads keep them. A
// Namespace that other field managers also manage was not created by the
// operator alone, so it is kept.
func (r *WorkloadReconciler) removeFrom(ctx context.Context, w *estatev1.Workload, siteName string, refs []estatev1.ProvisionedObject) removal {
	res := removal{site: siteName}
	site := &estatev1.HostingSite{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: siteName}, site); err != nil {
		res.remaining, res.err = refs, err
		if apierrors.IsNotFound(err) {
			res.err = &siteGoneError{site: siteName}
		}
		return res
	}
	c, err := r.sites.forSite(ctx, site)
	if err != nil {
		res.remaining, res.err = refs, err
		return res
	}

	owned, shared := splitShared(refs)
	for i, ref := range owned {
		err := r.deleteObject(ctx, c, ref)
		switch {
		case err == nil:
			res.removed = append(res.removed, ref)
		case isUnreachable(err):
			res.remaining = append(res.remaining, owned[i:]...)
			res.remaining = append(res.remaining, shared...)
			res.err = err
			return res
		default:
			res.remaining = append(res.remaining, ref)
			if res.err == nil {
				res.err = err
			}
		}
	}

	for _, group := range byNamespace(shared) {
		removed, released, err := r.releaseShared(ctx, c, w, siteName, group)
		res.removed = append(res.removed, removed...)
		res.released = append(res.released, released...)
		if err != nil {
			res.remaining = append(res.remaining, group[len(removed)+len(released):]...)
			if res.err == nil {
				res.err = err
			}
		}
	}
	return res
}

// releaseShared gives up this workload's hold on the shared objects of one
// namespace, ordered LimitRange, ResourceQuota, Namespace. It returns the
// objects deleted and those left for others, together a prefix of group,
// and the error that stopped it.
func (r *WorkloadReconciler) releaseShared(ctx context.Context, c client.Client, w *estatev1.Workload, site string, group []estatev1.ProvisionedObject) (removed, released []estatev1.ProvisionedObject, err error) {
	namespace := namespaceOf(group[0])
	peers, err := r.peersOn(ctx, namespace, site, w.Name)
	if err != nil {
		return nil, nil, err
	}
	if len(peers) > 0 {
		shared, err := provisioning.BuildShared(namespace, peers)
		if err != nil {
			return nil, nil, err
		}
		for _, obj := range shared.List() {
			body, err := provisioning.ToApply(obj)
			if err == nil {
				err = r.apply(ctx, c, body)
			}
			if err != nil {
				// The other workloads apply these again on their next reconcile.
				log.FromContext(ctx).Info("Applying a shared object for the remaining workloads failed",
					"site", site, "object", obj.GetObjectKind().GroupVersionKind().Kind+" "+obj.GetName(), "error", err.Error())
			}
		}
		return nil, group, nil
	}

	for _, ref := range group {
		if ref.Kind == "Namespace" {
			sole, err := r.soleManager(ctx, c, ref)
			if err != nil {
				return removed, released, err
			}
			if !sole {
				log.FromContext(ctx).Info("Keeping a namespace that other field managers also manage",
					"site", site, "namespace", ref.Name)
				released = append(released, ref)
				continue
			}
		}
		if err := r.deleteObject(ctx, c, ref); err != nil {
			return removed, released, err
		}
		removed = append(removed, ref)
	}
	return removed, released, nil
}

// soleManager reports whether FieldManager is the only field manager of the
// object. A missing object reports true, as there is nothing to keep.
func (r *WorkloadReconciler) soleManager(ctx context.Context, c client.Client, ref estatev1.ProvisionedObject) (bool, error) {
	obj, err := r.objectFor(ref)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.CallTimeout)
	defer cancel()
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	}
	for _, entry := range obj.GetManagedFields() {
		if entry.Manager != FieldManager {
			return false, nil
		}
	}
	return true, nil
}

// deleteObject deletes one object from the site; one already gone counts
// as deleted.
func (r *WorkloadReconciler) deleteObject(ctx context.Context, c client.Client, ref estatev1.ProvisionedObject) error {
	obj, err := r.objectFor(ref)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.CallTimeout)
	defer cancel()
	if err := c.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

func (r *WorkloadReconciler) objectFor(ref estatev1.ProvisionedObject) (*unstructured.Unstructured, error) {
	kind, ok := provisioning.LookupKind(ref.Kind)
	if !ok {
		return nil, fmt.Errorf("status records %s, a kind the operator does not manage: delete it by hand", describe(ref))
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(kind.GroupVersionKind)
	obj.SetNamespace(ref.Namespace)
	obj.SetName(ref.Name)
	return obj, nil
}

// splitShared separates the workload's own objects, ordered for deletion
// (Deployments, then the Service, then network policies and the rest), from
// the shared ones.
func splitShared(refs []estatev1.ProvisionedObject) (owned, shared []estatev1.ProvisionedObject) {
	for _, ref := range refs {
		if provisioning.IsShared(ref.Kind, ref.Name) {
			shared = append(shared, ref)
		} else {
			owned = append(owned, ref)
		}
	}
	deleteRank := map[string]int{"Deployment": 0, "Service": 1}
	rank := func(kind string) int {
		if r, ok := deleteRank[kind]; ok {
			return r
		}
		return 2
	}
	sort.SliceStable(owned, func(i, j int) bool { return rank(owned[i].Kind) < rank(owned[j].Kind) })
	return owned, shared
}

// byNamespace groups shared objects by namespace, each group ordered
// LimitRange, ResourceQuota, Namespace, and the groups sorted by namespace.
func byNamespace(shared []estatev1.ProvisionedObject) [][]estatev1.ProvisionedObject {
	groups := map[string][]estatev1.ProvisionedObject{}
	var names []string
	for _, ref := range shared {
		ns := namespaceOf(ref)
		if _, ok := groups[ns]; !ok {
			names = append(names, ns)
		}
		groups[ns] = append(groups[ns], ref)
	}
	sort.Strings(names)
	order := map[string]int{"LimitRange": 0, "ResourceQuota": 1, "Namespace": 2}
	out := make([][]estatev1.ProvisionedObject, 0, len(names))
	for _, ns := range names {
		group := groups[ns]
		sort.SliceStable(group, func(i, j int) bool { return order[group[i].Kind] < order[group[j].Kind] })
		out = append(out, group)
	}
	return out
}

func namespaceOf(ref estatev1.ProvisionedObject) string {
	if ref.Kind == "Namespace" {
		return ref.Name
	}
	return ref.Namespace
}

// reconcileDelete removes everything the workload's status records, then
// its finalizer. While a site cannot be reached it retries with a growing
// delay until DeletionTimeout has passed since the deletionTimestamp. Then
// it records what is left behind, warns in an event and lets the workload go.
func (r *WorkloadReconciler) reconcileDelete(ctx context.Context, w *estatev1.Workload) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(w, estatev1.ProvisioningFinalizer) {
		return reconcile.Result{}, nil
	}

	records := newRecordSet(w.Status.Provisioning)
	sites, bySite := records.all()
	var failures []removal
	for _, site := range sites {
		res := r.removeFrom(ctx, w, site, bySite[site])
		records.apply(res)
		if len(res.removed)+len(res.released) > 0 {
			r.event(w, "Normal", "Removed", "Remove", "Removed %d objects from hosting site %s.%s", len(res.removed), site, res.keptSentence())
		}
		if len(res.remaining) > 0 {
			failures = append(failures, res)
		}
	}

	if len(failures) == 0 {
		return r.removeFinalizer(ctx, w)
	}

	elapsed := r.Clock.Since(w.DeletionTimestamp.Time)
	left := r.DeletionTimeout - elapsed
	status := w.Status.DeepCopy()
	status.Provisioning = provisioningOrNew(status)
	_, status.Provisioning.LeftBehind = records.lists()
	status.Provisioning.Objects = nil

	reason := estatev1.ReasonApplyFailed
	for _, f := range failures {
		if f.unreachable() {
			reason = estatev1.ReasonSiteUnreachable
		}
	}
	if left > 0 {
		setProvisioned(status, w.Generation, false, reason, retryingMessage(failures, r.DeletionTimeout))
		if _, err := r.patchStatus(ctx, w, status); err != nil {
			return requeueOnConflict(err)
		}
		log.FromContext(ctx).Info("Removing a deleted workload's objects failed, retrying",
			"workload", klog.KObj(w), "leftBehind", len(status.Provisioning.LeftBehind), "retryIn", retryDelay(elapsed, left).String(), "error", failures[0].err.Error())
		return reconcile.Result{RequeueAfter: retryDelay(elapsed, left)}, nil
	}

	message := gaveUpMessage(failures, r.DeletionTimeout)
	setProvisioned(status, w.Generation, false, reason, message)
	if _, err := r.patchStatus(ctx, w, status); err != nil {
		return requeueOnConflict(err)
	}
	r.event(w, "Warning", "LeftBehind", "Remove", "%s", truncate(message, eventNoteLimit))
	log.FromContext(ctx).Info("Gave up removing a deleted workload's objects",
		"workload", klog.KObj(w), "leftBehind", len(status.Provisioning.LeftBehind), "error", failures[0].err.Error())
	return r.removeFinalizer(ctx, w)
}

func (r *WorkloadReconciler) removeFinalizer(ctx context.Context, w *estatev1.Workload) (reconcile.Result, error) {
	if !controllerutil.RemoveFinalizer(w, estatev1.ProvisioningFinalizer) {
		return reconcile.Result{}, nil
	}
	if err := r.Client.Update(ctx, w); err != nil {
		return requeueOnConflict(client.IgnoreNotFound(err))
	}
	return reconcile.Result{}, nil
}

// retryDelay returns the wait before the next removal attempt: about the
// time already spent, so attempts thin out exponentially, within
// [minDeleteRetry, maxDeleteRetry] and never past the deadline.
func retryDelay(elapsed, left time.Duration) time.Duration {
	d := min(max(elapsed, minDeleteRetry), maxDeleteRetry)
	return min(d, left)
}
