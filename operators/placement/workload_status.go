package placement

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/placement"
	"github.com/ukhomeoffice/estate/internal/placement/fromapi"
)

const (
	metav1True  = metav1.ConditionTrue
	metav1False = metav1.ConditionFalse
)

// setPlaced sets the Placed condition. meta.SetStatusCondition keeps the
// transition time unless the status flips, so an unchanged decision writes
// an identical status.
func setPlaced(status *estatev1.WorkloadStatus, generation int64, s metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type:               estatev1.ConditionPlaced,
		Status:             s,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: generation,
	})
}

// applyDecision writes the decision into status. A stranded workload keeps
// its site although the engine found none, and SiteAvailable gives the reason.
func applyDecision(status *estatev1.WorkloadStatus, generation int64, d placement.Decision, stranded bool, site *estatev1.HostingSite) {
	status.Placement = fromapi.Placement(d)
	if stranded && site != nil {
		status.Placement.Site = site.Name
		status.Placement.Tier = site.Spec.Tier
		status.Placement.Reason = estatev1.ReasonSiteKept
		status.Placement.Message = fmt.Sprintf("Kept on %s although it is %s, because no other site is eligible. %s",
			site.Name, notReadyPhrase(site), d.Message)
	}

	switch {
	case status.Placement.Site == "":
		setPlaced(status, generation, metav1False, string(d.Reason), d.Message)
		meta.RemoveStatusCondition(&status.Conditions, estatev1.ConditionSiteAvailable)
	default:
		setPlaced(status, generation, metav1True, status.Placement.Reason, status.Placement.Message)
		setSiteAvailable(status, generation, site)
	}
}

func setSiteAvailable(status *estatev1.WorkloadStatus, generation int64, site *estatev1.HostingSite) {
	c := metav1.Condition{
		Type:               estatev1.ConditionSiteAvailable,
		Status:             metav1True,
		Reason:             estatev1.ReasonAvailable,
		Message:            fmt.Sprintf("Hosting site %s is taking workloads.", site.Name),
		ObservedGeneration: generation,
	}
	switch {
	case !site.DeletionTimestamp.IsZero():
		c.Status, c.Reason = metav1False, estatev1.ReasonDeleting
		c.Message = fmt.Sprintf("Hosting site %s is being deleted; the workload moves as soon as another site is eligible.", site.Name)
	case site.Spec.Unschedulable:
		c.Status, c.Reason = metav1False, estatev1.ReasonCordoned
		c.Message = fmt.Sprintf("Hosting site %s is cordoned; the workload moves as soon as another site is eligible.", site.Name)
	}
	meta.SetStatusCondition(&status.Conditions, c)
}

func notReadyPhrase(site *estatev1.HostingSite) string {
	if !site.DeletionTimestamp.IsZero() {
		return "being deleted"
	}
	return "cordoned"
}
