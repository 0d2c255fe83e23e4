// Package audit answers auditors' questions about the estate from the API
// objects alone: where every workload runs and whether its classification
// allows it to run there.
package audit

import (
	"fmt"
	"sort"
	"strings"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// Rule names a placement compliance rule that a finding breaks.
type Rule string

const (
	// RuleAccreditation: the site is not accredited for the workload's classification.
	RuleAccreditation Rule = "AccreditationBreach"
	// RuleEnclaveOnlySecret: a workload below SECRET sits on a SECRET (enclave) site.
	RuleEnclaveOnlySecret Rule = "EnclaveHoldsOnlySecret"
	// RuleUnknownSite: the recorded site does not exist.
	RuleUnknownSite Rule = "UnknownSite"
	// RuleTierMismatch: the recorded tier differs from the site's tier.
	RuleTierMismatch Rule = "TierMismatch"
	// RuleCloudFirstUnexplained: the workload is below public cloud and the
	// record does not say why every public cloud site was rejected.
	RuleCloudFirstUnexplained Rule = "CloudFirstUnexplained"
)

// Unplaced is the tier column for workloads with no site.
const Unplaced = "Unplaced"

// PlacementReport is the result of the auditor's question "where does
// everything run, and is that allowed?".
type PlacementReport struct {
	// Summary counts workloads by classification and tier.
	Summary []SummaryRow `json:"summary"`
	// Workloads lists every workload with its placement.
	Workloads []WorkloadRecord `json:"workloads"`
	// Findings lists every placement that breaks a rule. Empty means compliant.
	Findings []Finding `json:"findings"`
}

// SummaryRow counts one classification's workloads per tier.
type SummaryRow struct {
	Classification string `json:"classification"`
	PublicCloud    int    `json:"publicCloud"`
	PrivateCloud   int    `json:"privateCloud"`
	OnPremises     int    `json:"onPremises"`
	Unplaced       int    `json:"unplaced"`
	Total          int    `json:"total"`
}

// WorkloadRecord is one workload's placement as recorded in its status.
type WorkloadRecord struct {
	Workload          string `json:"workload"`
	Classification    string `json:"classification"`
	MissionCritical   bool   `json:"missionCritical"`
	Site              string `json:"site,omitempty"`
	Tier              string `json:"tier"`
	SiteAccreditation string `json:"siteAccreditation,omitempty"`
	Reason            string `json:"reason,omitempty"`
	Message           string `json:"message,omitempty"`
}

// Finding is one broken rule.
type Finding struct {
	Workload string `json:"workload"`
	Rule     Rule   `json:"rule"`
	Message  string `json:"message"`
}

// Compliant reports whether the report has no findings.
func (r PlacementReport) Compliant() bool { return len(r.Findings) == 0 }

var classificationRank = map[estatev1.Classification]int{
	estatev1.Official: 1, estatev1.OfficialSensitive: 2, estatev1.Secret: 3,
}

// Placement audits the recorded placement of every workload against the sites.
func Placement(workloads []estatev1.Workload, sites []estatev1.HostingSite) PlacementReport {
	byName := make(map[string]*estatev1.HostingSite, len(sites))
	for i := range sites {
		byName[sites[i].Name] = &sites[i]
	}

	report := PlacementReport{Workloads: []WorkloadRecord{}, Findings: []Finding{}}
	counts := map[string]*SummaryRow{}
	for i := range workloads {
		w := &workloads[i]
		rec := record(w, byName)
		report.Workloads = append(report.Workloads, rec)
		report.Findings = append(report.Findings, check(w, byName)...)

		row := counts[rec.Classification]
		if row == nil {
			row = &SummaryRow{Classification: rec.Classification}
			counts[rec.Classification] = row
		}
		switch estatev1.Tier(rec.Tier) {
		case estatev1.TierPublicCloud:
			row.PublicCloud++
		case estatev1.TierPrivateCloud:
			row.PrivateCloud++
		case estatev1.TierOnPremises:
			row.OnPremises++
		default:
			row.Unplaced++
		}
		row.Total++
	}

	for _, row := range counts {
		report.Summary = append(report.Summary, *row)
	}
	sort.Slice(report.Summary, func(i, j int) bool {
		return classificationRank[estatev1.Classification(report.Summary[i].Classification)] <
			classificationRank[estatev1.Classification(report.Summary[j].Classification)]
	})
	sort.Slice(report.Workloads, func(i, j int) bool { return report.Workloads[i].Workload < report.Workloads[j].Workload })
	sort.SliceStable(report.Findings, func(i, j int) bool { return report.Findings[i].Workload < report.Findings[j].Workload })
	return report
}

func record(w *estatev1.Workload, sites map[string]*estatev1.HostingSite) WorkloadRecord {
	rec := WorkloadRecord{
		Workload:        w.Namespace + "/" + w.Name,
		Classification:  string(w.Spec.Classification),
		MissionCritical: w.Spec.MissionCritical,
		Tier:            Unplaced,
	}
	p := w.Status.Placement
	if p == nil {
		return rec
	}
	rec.Reason, rec.Message = p.Reason, p.Message
	if p.Site == "" {
		return rec
	}
	rec.Site, rec.Tier = p.Site, string(p.Tier)
	if site := sites[p.Site]; site != nil {
		rec.SiteAccreditation = string(site.Spec.Accreditation)
	}
	return rec
}

// check returns the rules that a workload's recorded placement breaks.
func check(w *estatev1.Workload, sites map[string]*estatev1.HostingSite) []Finding {
	p := w.Status.Placement
	if p == nil || p.Site == "" {
		return nil
	}
	key := w.Namespace + "/" + w.Name
	site := sites[p.Site]
	if site == nil {
		return []Finding{{Workload: key, Rule: RuleUnknownSite,
			Message: fmt.Sprintf("Placed on hosting site %s, which does not exist.", p.Site)}}
	}

	var findings []Finding
	if classificationRank[site.Spec.Accreditation] < classificationRank[w.Spec.Classification] {
		findings = append(findings, Finding{Workload: key, Rule: RuleAccreditation,
			Message: fmt.Sprintf("Classified %s but placed on %s, accredited only to %s.", w.Spec.Classification, site.Name, site.Spec.Accreditation)})
	}
	if site.Spec.Accreditation == estatev1.Secret && w.Spec.Classification != estatev1.Secret {
		findings = append(findings, Finding{Workload: key, Rule: RuleEnclaveOnlySecret,
			Message: fmt.Sprintf("Classified %s but placed on %s, a SECRET enclave site.", w.Spec.Classification, site.Name)})
	}
	if p.Tier != site.Spec.Tier {
		findings = append(findings, Finding{Workload: key, Rule: RuleTierMismatch,
			Message: fmt.Sprintf("Recorded tier %s but hosting site %s is %s.", p.Tier, site.Name, site.Spec.Tier)})
	}
	if site.Spec.Tier != estatev1.TierPublicCloud {
		if missing := unexplainedPublicSites(p, sites); len(missing) > 0 {
			findings = append(findings, Finding{Workload: key, Rule: RuleCloudFirstUnexplained,
				Message: fmt.Sprintf("Placed on %s (%s) with no recorded reason for rejecting public cloud site(s) %s.",
					site.Name, site.Spec.Tier, strings.Join(missing, ", "))})
		}
	}
	return findings
}

// unexplainedPublicSites lists the public cloud sites for which the record
// holds no rejection with a reason.
func unexplainedPublicSites(p *estatev1.Placement, sites map[string]*estatev1.HostingSite) []string {
	rejected := map[string]bool{}
	for _, o := range p.Sites {
		if !o.Eligible && o.Reason != "" && o.Message != "" {
			rejected[o.Site] = true
		}
	}
	var missing []string
	for name, site := range sites {
		if site.Spec.Tier == estatev1.TierPublicCloud && !rejected[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	return missing
}
