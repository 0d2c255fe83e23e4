package enclave

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SiteReport is the operator's findings on one site of an enclave.
type SiteReport struct {
	Site string
	// Problem, when set, is why the site could not be configured or
	// checked, for example ReasonSiteNotAccredited. Every control of the
	// site is then Unknown with the problem's reason.
	Problem *Finding
	// Controls holds a Finding per control condition type. A control
	// missing from the map is Unknown.
	Controls map[string]Finding
}

// maxConditionMessage is the length limit of metav1.Condition.Message.
const maxConditionMessage = 32768

// problemRank orders site problems for Ready's reason: the first in this
// list that any site has is reported.
var problemRank = []string{
	ReasonInvalidSpec,
	ReasonSiteNotAccredited,
	ReasonNoConnection,
	ReasonSiteUnreachable,
	ReasonApplyFailed,
}

// Conditions folds the site reports into one condition per control and
// Ready, in the order Ready then ControlConditions, each with
// observedGeneration set to generation. A control is False when it fails on
// any site, else Unknown when any site could not verify it, else True.
// Ready is True only when every control is True. Callers set them with
// meta.SetStatusCondition, which keeps lastTransitionTime when a status does
// not change.
func Conditions(reports []SiteReport, generation int64) []metav1.Condition {
	reports = slices.Clone(reports)
	slices.SortFunc(reports, func(a, b SiteReport) int { return strings.Compare(a.Site, b.Site) })

	controls := make([]metav1.Condition, 0, len(ControlConditions))
	for _, control := range ControlConditions {
		c := aggregate(control, reports)
		c.ObservedGeneration = generation
		controls = append(controls, c)
	}
	ready := readyCondition(reports, controls)
	ready.ObservedGeneration = generation
	return append([]metav1.Condition{ready}, controls...)
}

// siteFinding returns the finding of one control on one site.
func siteFinding(control string, r SiteReport) Finding {
	if r.Problem != nil {
		return Finding{Status: metav1.ConditionUnknown, Reason: r.Problem.Reason, Message: r.Problem.Message}
	}
	f, ok := r.Controls[control]
	if !ok {
		return Finding{Status: metav1.ConditionUnknown, Reason: ReasonVerificationFailed, Message: "not checked"}
	}
	return f
}

// aggregate returns the condition of one control over every site. Its
// reason is that of the first site, by name, with the deciding status, and
// its message lists each such site's message.
func aggregate(control string, reports []SiteReport) metav1.Condition {
	c := metav1.Condition{Type: control}
	if len(reports) == 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, ReasonVerificationFailed, "the enclave lists no site"
		return c
	}

	byStatus := map[metav1.ConditionStatus][]string{}
	firstReason := map[metav1.ConditionStatus]string{}
	for _, r := range reports {
		f := siteFinding(control, r)
		if _, seen := firstReason[f.Status]; !seen {
			firstReason[f.Status] = f.Reason
		}
		byStatus[f.Status] = append(byStatus[f.Status], r.Site+": "+f.Message)
	}

	for _, status := range []metav1.ConditionStatus{metav1.ConditionFalse, metav1.ConditionUnknown, metav1.ConditionTrue} {
		if messages, ok := byStatus[status]; ok {
			c.Status = status
			c.Reason = firstReason[status]
			c.Message = truncate(strings.Join(messages, "; "))
			break
		}
	}
	if c.Status == metav1.ConditionTrue {
		c.Reason = ReasonVerified
	}
	return c
}

func readyCondition(reports []SiteReport, controls []metav1.Condition) metav1.Condition {
	ready := metav1.Condition{Type: ConditionReady}

	var problems []string
	reason := ""
	rank := len(problemRank)
	for _, r := range reports {
		if r.Problem == nil {
			continue
		}
		problems = append(problems, r.Site+": "+r.Problem.Message)
		i := slices.Index(problemRank, r.Problem.Reason)
		if i < 0 {
			i = len(problemRank)
		}
		if reason == "" || i < rank {
			reason, rank = r.Problem.Reason, i
		}
	}
	if len(problems) > 0 {
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, reason, truncate(strings.Join(problems, "; "))
		return ready
	}

	var failed, unverified []string
	unverifiedReason := ""
	for _, c := range controls {
		switch c.Status {
		case metav1.ConditionFalse:
			failed = append(failed, c.Type)
		case metav1.ConditionUnknown:
			unverified = append(unverified, c.Type)
			if unverifiedReason == "" || c.Reason == ReasonNotVerifiable {
				unverifiedReason = c.Reason
			}
		}
	}
	switch {
	case len(reports) == 0:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, ReasonVerificationFailed, "the enclave lists no site"
	case len(failed) > 0:
		ready.Status, ready.Reason = metav1.ConditionFalse, ReasonControlFailed
		ready.Message = fmt.Sprintf("%s not held on every site; see those conditions", strings.Join(failed, ", "))
		if len(unverified) > 0 {
			ready.Message += fmt.Sprintf(", and %s not verified", strings.Join(unverified, ", "))
		}
	case len(unverified) > 0:
		ready.Status, ready.Reason = metav1.ConditionFalse, unverifiedReason
		ready.Message = fmt.Sprintf("%s not verified on every site; see those conditions", strings.Join(unverified, ", "))
	default:
		sites := make([]string, 0, len(reports))
		for _, r := range reports {
			sites = append(sites, r.Site)
		}
		ready.Status, ready.Reason = metav1.ConditionTrue, ReasonControlsHold
		ready.Message = "every control verified on " + strings.Join(sites, ", ")
	}
	return ready
}

func truncate(message string) string {
	const suffix = " (truncated)"
	if len(message) <= maxConditionMessage {
		return message
	}
	return message[:maxConditionMessage-len(suffix)] + suffix
}
