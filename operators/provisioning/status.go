package provisioning

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

const (
	// messageListLimit is how many objects a condition message names
	// before it only counts the rest.
	messageListLimit = 10
	// eventListLimit is the same for event notes, which are shorter.
	eventListLimit = 5
	// eventNoteLimit is the maximum length of an events.k8s.io/v1 note in bytes.
	eventNoteLimit = 1024
)

// setProvisioned sets the Provisioned condition. meta.SetStatusCondition
// keeps the transition time unless the status flips, so an unchanged
// outcome writes an identical status.
func setProvisioned(status *estatev1.WorkloadStatus, generation int64, ok bool, reason, message string) {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type:               estatev1.ConditionProvisioned,
		Status:             s,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: generation,
	})
}

func provisionedCondition(status *estatev1.WorkloadStatus) *metav1.Condition {
	return meta.FindStatusCondition(status.Conditions, estatev1.ConditionProvisioned)
}

func provisioningOrNew(status *estatev1.WorkloadStatus) *estatev1.Provisioning {
	if status.Provisioning == nil {
		return &estatev1.Provisioning{}
	}
	return status.Provisioning
}

// patchStatus writes status only when it changed, so reconciling an
// unchanged workload writes nothing. It reports whether it wrote.
func (r *WorkloadReconciler) patchStatus(ctx context.Context, w *estatev1.Workload, status *estatev1.WorkloadStatus) (bool, error) {
	if equality.Semantic.DeepEqual(&w.Status, status) {
		return false, nil
	}
	base := w.DeepCopy()
	w.Status = *status
	if err := r.Client.Status().Patch(ctx, w, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return false, fmt.Errorf("writing workload status: %w", err)
	}
	return true, nil
}

// recordConditionChange records an event when the Provisioned condition
// changed reason or status; a changed message alone records none.
func (r *WorkloadReconciler) recordConditionChange(w *estatev1.Workload, before, after *metav1.Condition) {
	if after == nil {
		return
	}
	if before != nil && before.Status == after.Status && before.Reason == after.Reason {
		return
	}
	eventType := "Warning"
	switch after.Reason {
	case estatev1.ReasonApplied, estatev1.ReasonPlanOnly:
		eventType = "Normal"
	}
	r.event(w, eventType, after.Reason, "Provision", "%s", truncate(after.Message, eventNoteLimit))
}

// event records an event about the workload.
// NOTE: the events.k8s.io recorder in client-go merges events with the same
// type, reason and action about one object into a series that keeps the
// first note, so a repeat within the series shows only as a higher count.
func (r *WorkloadReconciler) event(w *estatev1.Workload, eventType, reason, action, note string, args ...any) {
	if r.Recorder == nil {
		return
	}
	r.Recorder.Eventf(w, nil, eventType, reason, action, note, args...)
}

func appliedMessage(site string, count int, leftBehind []estatev1.ProvisionedObject) string {
	message := fmt.Sprintf("Applied %d objects to hosting site %s.", count, site)
	if len(leftBehind) > 0 {
		message += fmt.Sprintf(" %d objects could not be removed from earlier sites, and removal is retried on every resync: %s. They are listed in status.provisioning.leftBehind.",
			len(leftBehind), joinLimited(describeAll(leftBehind), messageListLimit))
	}
	return message
}

func noConnectionMessage(site *estatev1.HostingSite, p *estatev1.Provisioning) string {
	return withKeptObjects(fmt.Sprintf(
		"Hosting site %s has no connection, so nothing was applied: set spec.connection.kubeconfigSecretRef for a Kubernetes site or spec.connection.pulumiStack for a cloud site.",
		site.Name), p)
}

// withKeptObjects adds to message that the objects on earlier sites stay
// until a site accepts the workload, when there are any.
func withKeptObjects(message string, p *estatev1.Provisioning) string {
	if p == nil || len(p.Objects) == 0 {
		return message
	}
	var sites []string
	seen := map[string]bool{}
	for _, o := range p.Objects {
		if !seen[o.Site] {
			seen[o.Site] = true
			sites = append(sites, o.Site)
		}
	}
	noun := "hosting site"
	if len(sites) > 1 {
		noun = "hosting sites"
	}
	return fmt.Sprintf("%s The %d objects on %s %s stay until a site accepts the workload.",
		message, len(p.Objects), noun, strings.Join(sites, ", "))
}

// retryingMessage explains that a deleted workload's objects could not be
// removed yet, and what happens when the bound passes.
func retryingMessage(failures []removal, bound time.Duration) string {
	return fmt.Sprintf("%s Retrying until %s after deletion, then the workload is deleted and they are left behind.",
		failureSentences(failures), bound)
}

// gaveUpMessage returns the message naming the objects left behind on each
// site, and why.
func gaveUpMessage(failures []removal, bound time.Duration) string {
	return fmt.Sprintf("Gave up removing objects %s after deletion. %s", bound, failureSentences(failures))
}

func failureSentences(failures []removal) string {
	sentences := make([]string, 0, len(failures))
	for _, f := range failures {
		what := "rejected the removal"
		if f.unreachable() {
			what = "is unreachable"
		}
		sentences = append(sentences, fmt.Sprintf("Hosting site %s %s (%v), so these objects are left behind: %s.",
			f.site, what, f.err, joinLimited(describeAll(f.remaining), messageListLimit)))
	}
	return strings.Join(sentences, " ")
}

func describeAll(refs []estatev1.ProvisionedObject) []string {
	out := make([]string, 0, len(refs))
	for _, ref := range refs {
		out = append(out, describe(ref))
	}
	return out
}

// joinLimited joins at most n items with commas and counts the rest.
func joinLimited(items []string, n int) string {
	return strings.Join(limit(items, n), ", ")
}

// limit returns at most n items, with a last item counting the rest.
func limit(items []string, n int) []string {
	if len(items) <= n {
		return items
	}
	out := append([]string(nil), items[:n]...)
	return append(out, fmt.Sprintf("and %d more", len(items)-n))
}

// truncate shortens s to at most n bytes, ending with "..." when cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 3
	// Step back to a rune boundary so the note stays valid UTF-8.
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
