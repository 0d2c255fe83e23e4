// Package network holds the network operator. It keeps the department
// network's address plan in the Network status and compiles the zone
// matrix and declared flows into policy. It applies the Kubernetes
// policies to the management cluster and reports each workload's
// addresses and flows.
package network

import (
	"context"
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/ipam"
	ipamapi "github.com/ukhomeoffice/estate/internal/ipam/fromapi"
	"github.com/ukhomeoffice/estate/internal/segmentation"
	segapi "github.com/ukhomeoffice/estate/internal/segmentation/fromapi"
)

// FieldManager owns every policy field the network operator applies.
const FieldManager = "estate-network"

var clusterNetworkPolicyGVK = schema.GroupVersionKind{Group: "policy.networking.k8s.io", Version: "v1alpha2", Kind: "ClusterNetworkPolicy"}

// Reconciler reconciles the Network. Every workload and site change maps to
// the Network, so one reconcile covers the whole estate. Allocation is
// computed over all holders at once and written with optimistic
// concurrency, so no block is handed out twice.
type Reconciler struct {
	Client client.Client
}

// Reconcile allocates, compiles, applies and reports.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	n := &estatev1.Network{}
	if err := r.Client.Get(ctx, req.NamespacedName, n); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !n.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	primary, err := r.isPrimary(ctx, n)
	if err != nil || !primary {
		return reconcile.Result{}, err
	}

	var (
		sites     estatev1.HostingSiteList
		workloads estatev1.WorkloadList
		enclaves  estatev1.EnclaveList
	)
	for _, list := range []client.ObjectList{&sites, &workloads, &enclaves} {
		if err := r.Client.List(ctx, list); err != nil {
			return reconcile.Result{}, fmt.Errorf("listing %T: %w", list, err)
		}
	}

	spec := ipamapi.Spec(n)
	if errs := ipam.Validate(spec, ipamapi.Sites(sites.Items)); len(errs) > 0 {
		msg := ipamapi.FieldErrorsMessage(errs)
		if err := r.writeNetworkStatus(ctx, n, nil, metav1.ConditionFalse, estatev1.ReasonInvalidNetwork, msg); err != nil {
			return requeueOnConflict(err)
		}
		return requeueOnConflict(r.reportInvalid(ctx, workloads.Items, n.Name))
	}

	plan, problems, err := ipam.Allocate(spec, ipamapi.Sites(sites.Items), ipamapi.Holders(workloads.Items), ipamapi.PlanFromStatus(&n.Status))
	if err != nil {
		return reconcile.Result{}, reconcile.TerminalError(err)
	}
	readyMsg := fmt.Sprintf("Address plan holds %d site blocks and %d workload blocks.", len(plan.Sites), len(plan.Workloads))
	if err := r.writeNetworkStatus(ctx, n, &plan, metav1.ConditionTrue, estatev1.ReasonNetworkConfigured, readyMsg); err != nil {
		return requeueOnConflict(err)
	}

	out, err := segmentation.Compile(segapi.Intent(n, sites.Items, workloads.Items, enclaves.Items, plan))
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("compiling segmentation: %w", err)
	}
	if err := r.applyPolicies(ctx, out); err != nil {
		return reconcile.Result{}, err
	}
	return requeueOnConflict(r.reportWorkloads(ctx, workloads.Items, plan, problems, out))
}

// isPrimary reports whether n is the network the estate uses, and marks
// any other Network not ready.
func (r *Reconciler) isPrimary(ctx context.Context, n *estatev1.Network) (bool, error) {
	primary, err := Primary(ctx, r.Client)
	if err != nil {
		return false, err
	}
	if primary.Name == n.Name {
		return true, nil
	}
	msg := fmt.Sprintf("The estate has one network and it is %s. Delete this Network or merge it into that one.", primary.Name)
	return false, r.writeNetworkStatus(ctx, n, nil, metav1.ConditionFalse, "NotPrimary", msg)
}

// writeNetworkStatus stores the plan, when given, and the Ready condition.
// Update carries the resourceVersion the plan was computed from.
func (r *Reconciler) writeNetworkStatus(ctx context.Context, n *estatev1.Network, plan *ipam.Plan, s metav1.ConditionStatus, reason, msg string) error {
	status := n.Status.DeepCopy()
	status.ObservedGeneration = n.Generation
	if plan != nil {
		ipamapi.StatusFromPlan(*plan, status)
	}
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type: estatev1.ConditionReady, Status: s, Reason: reason, Message: msg, ObservedGeneration: n.Generation,
	})
	if equality.Semantic.DeepEqual(&n.Status, status) {
		return nil
	}
	updated := n.DeepCopy()
	updated.Status = *status
	if err := r.Client.Status().Update(ctx, updated); err != nil {
		return fmt.Errorf("writing the address plan of network %s: %w", n.Name, err)
	}
	*n = *updated
	return nil
}

// applyPolicies server-side applies the compiled Kubernetes policies to the
// management cluster and deletes those the compiler no longer produces.
// NOTE: member sites receive each workload's NetworkPolicy through the
// provisioning operator, but not these ClusterNetworkPolicies.
func (r *Reconciler) applyPolicies(ctx context.Context, out *segmentation.Output) error {
	wantNP := map[client.ObjectKey]bool{}
	for i := range out.NetworkPolicies {
		np := out.NetworkPolicies[i].DeepCopy()
		np.SetGroupVersionKind(networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"))
		if err := r.apply(ctx, np); err != nil {
			return err
		}
		wantNP[client.ObjectKeyFromObject(np)] = true
	}
	wantCNP := map[string]bool{}
	for i := range out.ClusterNetworkPolicies {
		cnp := out.ClusterNetworkPolicies[i].DeepCopy()
		cnp.SetGroupVersionKind(clusterNetworkPolicyGVK)
		if err := r.apply(ctx, cnp); err != nil {
			return err
		}
		wantCNP[cnp.Name] = true
	}

	managed := client.MatchingLabels{segmentation.ManagedByLabel: segmentation.ManagedByValue}
	nps := &networkingv1.NetworkPolicyList{}
	if err := r.Client.List(ctx, nps, managed); err != nil {
		return fmt.Errorf("listing network policies: %w", err)
	}
	for i := range nps.Items {
		if !wantNP[client.ObjectKeyFromObject(&nps.Items[i])] {
			if err := r.Client.Delete(ctx, &nps.Items[i]); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting stale network policy %s: %w", klog.KObj(&nps.Items[i]), err)
			}
		}
	}
	cnps := &v1alpha2.ClusterNetworkPolicyList{}
	if err := r.Client.List(ctx, cnps, managed); err != nil {
		return fmt.Errorf("listing cluster network policies: %w", err)
	}
	for i := range cnps.Items {
		if !wantCNP[cnps.Items[i].Name] {
			if err := r.Client.Delete(ctx, &cnps.Items[i]); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting stale cluster network policy %s: %w", cnps.Items[i].Name, err)
			}
		}
	}
	return nil
}

func (r *Reconciler) apply(ctx context.Context, obj client.Object) error {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: content}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s: %w", u.GetKind(), klog.KObj(u), err)
	}
	return nil
}

// reportWorkloads writes each placed workload's addresses, policies and
// rejected flows, with NetworkReady.
func (r *Reconciler) reportWorkloads(ctx context.Context, workloads []estatev1.Workload, plan ipam.Plan, problems []ipam.Problem, out *segmentation.Output) error {
	blocks := map[string][]string{}
	for _, wb := range plan.Workloads {
		blocks[wb.Key] = ipamapi.Strings(wb.Prefixes)
	}
	problemByKey := map[string]ipam.Problem{}
	for _, p := range problems {
		problemByKey[p.Key] = p
	}
	rejected := map[string][]estatev1.RejectedFlow{}
	for _, rej := range out.Rejected {
		flow := rej.Flow
		if flow == "" {
			flow = "(workload)"
		}
		rejected[rej.Workload] = append(rejected[rej.Workload], estatev1.RejectedFlow{Flow: flow, Reason: string(rej.Reason), Message: rej.Message})
	}
	policies := map[string][]string{}
	for _, np := range out.NetworkPolicies {
		key := np.Namespace + "/" + np.Labels[segmentation.WorkloadLabel]
		policies[key] = append(policies[key], np.Name)
	}

	// A conflict on one workload, whose status another operator wrote a
	// moment ago, must not hold up the rest: carry on and requeue once.
	var conflict error
	for i := range workloads {
		w := &workloads[i]
		if !w.DeletionTimestamp.IsZero() {
			continue
		}
		key := w.Namespace + "/" + w.Name
		status := w.Status.DeepCopy()
		cond := metav1.Condition{Type: estatev1.ConditionNetworkReady, ObservedGeneration: w.Generation}
		switch {
		case w.Status.Placement == nil || w.Status.Placement.Site == "":
			status.Network = nil
			cond.Status, cond.Reason = metav1.ConditionFalse, estatev1.ReasonAwaitingPlacement
			cond.Message = "The workload gets addresses and policy once it is placed."
		default:
			status.Network = &estatev1.WorkloadNetwork{Addresses: blocks[key], Policies: policies[key], RejectedFlows: rejected[key]}
			cond.Status, cond.Reason = metav1.ConditionTrue, estatev1.ReasonNetworkConfigured
			cond.Message = fmt.Sprintf("Holds %s; every declared flow is compiled into policy.", strings.Join(blocks[key], " and "))
			if p, ok := problemByKey[key]; ok {
				cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, estatev1.ReasonAddressesExhausted, p.Message
			} else if len(rejected[key]) > 0 {
				cond.Status, cond.Reason = metav1.ConditionFalse, estatev1.ReasonFlowsRejected
				cond.Message = rejectedMessage(rejected[key])
			}
		}
		meta.SetStatusCondition(&status.Conditions, cond)
		if err := patchWorkloadStatus(ctx, r.Client, w, status); err != nil {
			if !apierrors.IsConflict(err) {
				return err
			}
			conflict = err
		}
	}
	return conflict
}

func rejectedMessage(flows []estatev1.RejectedFlow) string {
	parts := make([]string, 0, len(flows))
	for _, f := range flows {
		parts = append(parts, fmt.Sprintf("%s (%s): %s", f.Flow, f.Reason, f.Message))
	}
	return fmt.Sprintf("%d declared flow(s) rejected and not enforced as allowed: %s", len(flows), strings.Join(parts, " "))
}

// reportInvalid marks every placed workload NetworkReady=False while the
// network spec is invalid.
func (r *Reconciler) reportInvalid(ctx context.Context, workloads []estatev1.Workload, network string) error {
	for i := range workloads {
		w := &workloads[i]
		status := w.Status.DeepCopy()
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{
			Type: estatev1.ConditionNetworkReady, Status: metav1.ConditionFalse, Reason: estatev1.ReasonInvalidNetwork,
			Message:            fmt.Sprintf("Network %s is invalid; its Ready condition names the field and the fix.", network),
			ObservedGeneration: w.Generation,
		})
		if err := patchWorkloadStatus(ctx, r.Client, w, status); err != nil {
			return err
		}
	}
	return nil
}

// patchWorkloadStatus merge-patches status only when it changed, with an
// optimistic lock so another operator's concurrent write is never lost.
func patchWorkloadStatus(ctx context.Context, c client.Client, w *estatev1.Workload, status *estatev1.WorkloadStatus) error {
	if equality.Semantic.DeepEqual(&w.Status, status) {
		return nil
	}
	base := w.DeepCopy()
	w.Status = *status
	if err := c.Status().Patch(ctx, w, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("writing network status of workload %s: %w", klog.KObj(w), err)
	}
	log.FromContext(ctx).V(1).Info("Updated workload network status", "workload", klog.KObj(w))
	return nil
}
