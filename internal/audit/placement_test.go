package audit

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

func site(name string, tier estatev1.Tier, acc estatev1.Classification) estatev1.HostingSite {
	return estatev1.HostingSite{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       estatev1.HostingSiteSpec{Tier: tier, Accreditation: acc},
	}
}

func workload(name string, c estatev1.Classification, p *estatev1.Placement) estatev1.Workload {
	return estatev1.Workload{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec:       estatev1.WorkloadSpec{Classification: c},
		Status:     estatev1.WorkloadStatus{Placement: p},
	}
}

func rejected(site string) estatev1.SiteOutcome {
	return estatev1.SiteOutcome{Site: site, Tier: estatev1.TierPublicCloud, Reason: "AccreditationTooLow", Message: "Accredited to OFFICIAL only."}
}

var sites = []estatev1.HostingSite{
	site("aws-london", estatev1.TierPublicCloud, estatev1.Official),
	site("crown-dc", estatev1.TierPrivateCloud, estatev1.OfficialSensitive),
	site("enclave-a", estatev1.TierOnPremises, estatev1.Secret),
}

func TestPlacementFindings(t *testing.T) {
	cases := map[string]struct {
		workload estatev1.Workload
		want     []Finding
	}{
		"public cloud official workload is compliant": {
			workload: workload("erp", estatev1.Official, &estatev1.Placement{Site: "aws-london", Tier: estatev1.TierPublicCloud}),
			want:     []Finding{},
		},
		"private cloud with every public rejection recorded is compliant": {
			workload: workload("wi", estatev1.OfficialSensitive, &estatev1.Placement{Site: "crown-dc", Tier: estatev1.TierPrivateCloud,
				Sites: []estatev1.SiteOutcome{rejected("aws-london")}}),
			want: []Finding{},
		},
		"private cloud without the public rejection is unexplained": {
			workload: workload("wi", estatev1.OfficialSensitive, &estatev1.Placement{Site: "crown-dc", Tier: estatev1.TierPrivateCloud}),
			want: []Finding{{Workload: "ns/wi", Rule: RuleCloudFirstUnexplained,
				Message: "Placed on crown-dc (PrivateCloud) with no recorded reason for rejecting public cloud site(s) aws-london."}},
		},
		"secret on an official site breaks accreditation": {
			workload: workload("li", estatev1.Secret, &estatev1.Placement{Site: "aws-london", Tier: estatev1.TierPublicCloud}),
			want: []Finding{{Workload: "ns/li", Rule: RuleAccreditation,
				Message: "Classified SECRET but placed on aws-london, accredited only to OFFICIAL."}},
		},
		"official on an enclave site is flagged": {
			workload: workload("erp", estatev1.Official, &estatev1.Placement{Site: "enclave-a", Tier: estatev1.TierOnPremises,
				Sites: []estatev1.SiteOutcome{rejected("aws-london")}}),
			want: []Finding{{Workload: "ns/erp", Rule: RuleEnclaveOnlySecret,
				Message: "Classified OFFICIAL but placed on enclave-a, a SECRET enclave site."}},
		},
		"recorded tier differs from the site": {
			workload: workload("erp", estatev1.Official, &estatev1.Placement{Site: "aws-london", Tier: estatev1.TierOnPremises}),
			want: []Finding{{Workload: "ns/erp", Rule: RuleTierMismatch,
				Message: "Recorded tier OnPremises but hosting site aws-london is PublicCloud."}},
		},
		"missing site is reported": {
			workload: workload("erp", estatev1.Official, &estatev1.Placement{Site: "gone", Tier: estatev1.TierPublicCloud}),
			want: []Finding{{Workload: "ns/erp", Rule: RuleUnknownSite,
				Message: "Placed on hosting site gone, which does not exist."}},
		},
		"unplaced workload has no finding": {
			workload: workload("new", estatev1.Official, nil),
			want:     []Finding{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			report := Placement([]estatev1.Workload{tc.workload}, sites)
			if diff := cmp.Diff(tc.want, report.Findings); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if report.Compliant() != (len(tc.want) == 0) {
				t.Errorf("Compliant() = %v with %d findings", report.Compliant(), len(report.Findings))
			}
		})
	}
}

func TestPlacementSummary(t *testing.T) {
	workloads := []estatev1.Workload{
		workload("li", estatev1.Secret, &estatev1.Placement{Site: "enclave-a", Tier: estatev1.TierOnPremises}),
		workload("erp", estatev1.Official, &estatev1.Placement{Site: "aws-london", Tier: estatev1.TierPublicCloud}),
		workload("web", estatev1.Official, &estatev1.Placement{Site: "aws-london", Tier: estatev1.TierPublicCloud}),
		workload("wi", estatev1.OfficialSensitive, &estatev1.Placement{Site: "crown-dc", Tier: estatev1.TierPrivateCloud}),
		workload("new", estatev1.Official, nil),
	}
	got := Placement(workloads, sites)

	want := []SummaryRow{
		{Classification: "OFFICIAL", PublicCloud: 2, Unplaced: 1, Total: 3},
		{Classification: "OFFICIAL-SENSITIVE", PrivateCloud: 1, Total: 1},
		{Classification: "SECRET", OnPremises: 1, Total: 1},
	}
	if diff := cmp.Diff(want, got.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if got.Workloads[0].Workload != "ns/erp" || got.Workloads[len(got.Workloads)-1].Workload != "ns/wi" {
		t.Errorf("workloads are not sorted by name: %+v", got.Workloads)
	}
	if got.Workloads[2].Tier != Unplaced {
		t.Errorf("unplaced workload tier = %q, want %q", got.Workloads[2].Tier, Unplaced)
	}
}
