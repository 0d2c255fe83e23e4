package ipam

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateReportsEachProblem(t *testing.T) {
	// base returns a valid dual-stack spec, which each case then breaks in
	// one way.
	base := func(change func(*Spec)) Spec {
		s := Spec{
			Spaces:    []string{"172.16.0.0/12", "10.64.0.0/10", "fd00:64::/32"},
			PSNRanges: []string{"51.0.0.0/8"},
			Zones:     []string{"frontend", "backend"},
		}
		change(&s)
		return s
	}
	sites := []Site{{Name: "aws-london", Tier: PublicCloud}, {Name: "croydon", Tier: OnPremises}}

	tests := map[string]struct {
		spec  Spec
		sites []Site
		want  FieldError
	}{
		"address space with host bits set": {
			spec: base(func(s *Spec) { s.Spaces[1] = "10.64.1.0/10" }),
			want: FieldError{
				Field:      "spec.addressSpaces[1]",
				Value:      "10.64.1.0/10",
				Message:    "10.64.1.0/10 has host bits set; the network address is 10.64.0.0/10",
				Suggestion: "10.64.0.0/10",
			},
		},
		"address space that is not a CIDR": {
			spec: base(func(s *Spec) { s.Spaces[1] = "10.64.0.0" }),
			want: FieldError{
				Field:   "spec.addressSpaces[1]",
				Value:   "10.64.0.0",
				Message: `"10.64.0.0" is not a CIDR such as 10.64.0.0/10`,
			},
		},
		"overlapping address spaces name both": {
			spec: base(func(s *Spec) { s.Spaces = append(s.Spaces, "10.96.0.0/12") }),
			want: FieldError{
				Field: "spec.addressSpaces[3]",
				Value: "10.96.0.0/12",
				Message: "10.96.0.0/12 overlaps 10.64.0.0/10 in spec.addressSpaces[1], " +
					"but address spaces must not overlap, so remove or shrink one of them",
			},
		},
		"PSN range overlapping an address space": {
			spec: base(func(s *Spec) { s.Spaces = append(s.Spaces, "51.100.0.0/16") }),
			want: FieldError{
				Field: "spec.psn.ranges[0]",
				Value: "51.0.0.0/8",
				Message: "51.0.0.0/8 overlaps address space 51.100.0.0/16. PSN ranges are reached through PSN gateways " +
					"and cannot also be carved into department blocks, so remove the overlap from spec.addressSpaces[3] or from this range",
			},
		},
		"PSN range that is not a CIDR": {
			spec: base(func(s *Spec) { s.PSNRanges = []string{"51.0.0.0/8", "psn"} }),
			want: FieldError{
				Field:   "spec.psn.ranges[1]",
				Value:   "psn",
				Message: `"psn" is not a CIDR such as 51.0.0.0/8`,
			},
		},
		"no address spaces": {
			spec: base(func(s *Spec) { s.Spaces = nil }),
			want: FieldError{
				Field:   "spec.addressSpaces",
				Message: "at least one address space is required, for example 10.64.0.0/10",
			},
		},
		"no zones": {
			spec: base(func(s *Spec) { s.Zones = nil }),
			want: FieldError{
				Field:   "spec.zones",
				Message: "at least one zone is required, because workload blocks are carved from zone blocks",
			},
		},
		"zone listed twice": {
			spec: base(func(s *Spec) { s.Zones = append(s.Zones, "frontend") }),
			want: FieldError{
				Field:   "spec.zones[2]",
				Value:   "frontend",
				Message: "zone frontend is already listed as spec.zones[0], so remove one of them",
			},
		},
		"pinned block outside every address space": {
			spec: base(func(s *Spec) { s.SitePins = []SitePin{{Site: "croydon", CIDRs: []string{"192.168.0.0/16"}}} }),
			want: FieldError{
				Field: "spec.siteBlocks[0].cidrs[0]",
				Value: "192.168.0.0/16",
				Message: "192.168.0.0/16 is not inside any address space in spec.addressSpaces, " +
					"so add a space that contains it or pin a range inside one",
			},
		},
		"pinned block straddling an address space edge": {
			spec: base(func(s *Spec) { s.SitePins = []SitePin{{Site: "croydon", CIDRs: []string{"10.0.0.0/8"}}} }),
			want: FieldError{
				Field: "spec.siteBlocks[0].cidrs[0]",
				Value: "10.0.0.0/8",
				Message: "10.0.0.0/8 is not inside any address space in spec.addressSpaces, " +
					"so add a space that contains it or pin a range inside one",
			},
		},
		"pinned block with host bits set": {
			spec: base(func(s *Spec) { s.SitePins = []SitePin{{Site: "croydon", CIDRs: []string{"10.96.7.0/16"}}} }),
			want: FieldError{
				Field:      "spec.siteBlocks[0].cidrs[0]",
				Value:      "10.96.7.0/16",
				Message:    "10.96.7.0/16 has host bits set; the network address is 10.96.0.0/16",
				Suggestion: "10.96.0.0/16",
			},
		},
		"pinned blocks overlapping": {
			spec: base(func(s *Spec) {
				s.SitePins = []SitePin{
					{Site: "croydon", CIDRs: []string{"10.96.0.0/15"}},
					{Site: "aws-london", CIDRs: []string{"10.97.0.0/16"}},
				}
			}),
			want: FieldError{
				Field:   "spec.siteBlocks[1].cidrs[0]",
				Value:   "10.97.0.0/16",
				Message: "10.97.0.0/16 overlaps 10.96.0.0/15 of site croydon in spec.siteBlocks[0].cidrs[0], but site blocks must not overlap",
			},
		},
		"two pinned blocks of one family": {
			spec: base(func(s *Spec) {
				s.SitePins = []SitePin{{Site: "croydon", CIDRs: []string{"10.96.0.0/16", "10.98.0.0/16"}}}
			}),
			want: FieldError{
				Field:   "spec.siteBlocks[0].cidrs[1]",
				Value:   "10.98.0.0/16",
				Message: "site croydon already has the IPv4 block 10.96.0.0/16, and a site holds at most one block per family",
			},
		},
		"pin for an unknown site": {
			spec: base(func(s *Spec) { s.SitePins = []SitePin{{Site: "croydn", CIDRs: []string{"10.96.0.0/16"}}} }),
			want: FieldError{
				Field: "spec.siteBlocks[0].site",
				Value: "croydn",
				Message: "there is no hosting site named croydn, so the pin only reserves its range. " +
					"Correct the name or remove the entry",
			},
		},
		"site pinned twice": {
			spec: base(func(s *Spec) {
				s.SitePins = []SitePin{
					{Site: "croydon", CIDRs: []string{"10.96.0.0/16"}},
					{Site: "croydon", CIDRs: []string{"fd00:64:96::/48"}},
				}
			}),
			want: FieldError{
				Field:   "spec.siteBlocks[1].site",
				Value:   "croydon",
				Message: "site croydon is already pinned in spec.siteBlocks[0], so merge the two entries",
			},
		},
		"pin with no CIDRs": {
			spec: base(func(s *Spec) { s.SitePins = []SitePin{{Site: "croydon"}} }),
			want: FieldError{
				Field:   "spec.siteBlocks[0].cidrs",
				Message: "at least one CIDR is required, for example 10.96.0.0/16",
			},
		},
		"pinned block too small for the zones": {
			spec: base(func(s *Spec) { s.SitePins = []SitePin{{Site: "croydon", CIDRs: []string{"10.96.0.0/20"}}} }),
			want: FieldError{
				Field:   "spec.siteBlocks[0].cidrs[0]",
				Value:   "10.96.0.0/20",
				Message: "10.96.0.0/20 is no larger than a /20 zone block, so pin a block of /19 or larger",
			},
		},
		"pinned block holding fewer zone blocks than zones": {
			spec: base(func(s *Spec) {
				s.Zones = []string{"a", "b", "c"}
				s.SitePins = []SitePin{{Site: "croydon", CIDRs: []string{"10.96.0.0/19"}}}
			}),
			want: FieldError{
				Field:   "spec.siteBlocks[0].cidrs[0]",
				Value:   "10.96.0.0/19",
				Message: "10.96.0.0/19 holds 2 zone blocks of /20, but spec.zones lists 3 zones, so pin a block of /18 or larger",
			},
		},
		"public cloud pin larger than a VPC": {
			spec: base(func(s *Spec) { s.SitePins = []SitePin{{Site: "aws-london", CIDRs: []string{"10.96.0.0/14"}}} }),
			want: FieldError{
				Field: "spec.siteBlocks[0].cidrs[0]",
				Value: "10.96.0.0/14",
				Message: "site aws-london is a public cloud site, and a cloud VPC's IPv4 block must be between /16 and /28, " +
					"so split 10.96.0.0/14 into its 4 /16 blocks and pin one of them, such as 10.96.0.0/16",
				Suggestion: "10.96.0.0/16",
			},
		},
		"public cloud pin smaller than a VPC": {
			spec: base(func(s *Spec) {
				s.Policy = Policy{SiteBits: 24, ZoneBits: 30, WorkloadBits: 31}
				s.Zones = []string{"frontend"}
				s.SitePins = []SitePin{{Site: "aws-london", CIDRs: []string{"10.96.0.8/29"}}}
			}),
			want: FieldError{
				Field: "spec.siteBlocks[0].cidrs[0]",
				Value: "10.96.0.8/29",
				Message: "site aws-london is a public cloud site, and a cloud VPC's IPv4 block must be between /16 and /28, " +
					"so pin a /28 or larger block, such as 10.96.0.0/28, in place of 10.96.0.8/29",
				Suggestion: "10.96.0.0/28",
			},
		},
		"site prefix length too short for public cloud": {
			spec: base(func(s *Spec) { s.Policy.SiteBits = 14 }),
			want: FieldError{
				Field: "spec.allocation.sitePrefixLength",
				Value: "14",
				Message: "public cloud sites aws-london would get /14 IPv4 blocks, but a cloud VPC's IPv4 block " +
					"must be between /16 and /28, so set sitePrefixLength to 16",
				Suggestion: "16",
			},
		},
		"zone prefix length not longer than site": {
			spec: base(func(s *Spec) { s.Policy.ZoneBits = 16 }),
			want: FieldError{
				Field:      "spec.allocation.zonePrefixLength",
				Value:      "16",
				Message:    "zonePrefixLength 16 must be longer than sitePrefixLength 16, because zone blocks are carved from site blocks",
				Suggestion: "17",
			},
		},
		"workload prefix length not longer than zone": {
			spec: base(func(s *Spec) { s.Policy.WorkloadBits = 20 }),
			want: FieldError{
				Field:      "spec.allocation.workloadPrefixLength",
				Value:      "20",
				Message:    "workloadPrefixLength 20 must be longer than zonePrefixLength 20, because workload blocks are carved from zone blocks",
				Suggestion: "21",
			},
		},
		"more zones than fit in a site block": {
			spec: base(func(s *Spec) {
				s.Zones = []string{"z01", "z02", "z03", "z04", "z05", "z06", "z07", "z08", "z09",
					"z10", "z11", "z12", "z13", "z14", "z15", "z16", "z17", "z18", "z19", "z20"}
			}),
			want: FieldError{
				Field: "spec.allocation.zonePrefixLength",
				Value: "20",
				Message: "a /16 site block holds 16 zone blocks of /20, but spec.zones lists 20 zones, " +
					"so the largest zone blocks that fit are /21",
				Suggestion: "21",
			},
		},
		"more zones than fit in an IPv6 site block": {
			spec: base(func(s *Spec) { s.Policy.ZoneBits6 = 49; s.Zones = []string{"a", "b", "c"} }),
			want: FieldError{
				Field: "spec.allocation.zonePrefixLengthIPv6",
				Value: "49",
				Message: "a /48 site block holds 2 zone blocks of /49, but spec.zones lists 3 zones, " +
					"so the largest zone blocks that fit are /50",
				Suggestion: "50",
			},
		},
		"prefix length beyond the family": {
			spec: base(func(s *Spec) { s.Policy.WorkloadBits = 33 }),
			want: FieldError{
				Field:   "spec.allocation.workloadPrefixLength",
				Value:   "33",
				Message: "workloadPrefixLength 33 is outside 1 to 32, the prefix lengths of IPv4",
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := tt.sites
			if s == nil {
				s = sites
			}
			got := Validate(tt.spec, s)
			if len(got) != 1 {
				t.Fatalf("Validate returned %d errors, want 1: %+v", len(got), got)
			}
			if got[0].Field != tt.want.Field {
				t.Errorf("Field = %q, want %q", got[0].Field, tt.want.Field)
			}
			if got[0].Value != tt.want.Value {
				t.Errorf("Value = %q, want %q", got[0].Value, tt.want.Value)
			}
			if got[0].Message != tt.want.Message {
				t.Errorf("Message =\n%q\nwant\n%q", got[0].Message, tt.want.Message)
			}
			if got[0].Suggestion != tt.want.Suggestion {
				t.Errorf("Suggestion = %q, want %q", got[0].Suggestion, tt.want.Suggestion)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := map[string]struct {
		spec  Spec
		sites []Site
	}{
		"PSN public /8 beside private space": {
			spec:  Spec{Spaces: []string{"10.64.0.0/10"}, PSNRanges: []string{"51.0.0.0/8"}, Zones: []string{"frontend"}},
			sites: onPrem("croydon"),
		},
		"public space owned by the department": {
			spec:  Spec{Spaces: []string{"194.60.0.0/14"}, PSNRanges: []string{"51.0.0.0/8"}, Zones: []string{"frontend"}},
			sites: onPrem("croydon"),
		},
		"PSN range with host bits set": {
			spec:  Spec{Spaces: []string{"10.64.0.0/10"}, PSNRanges: []string{"51.1.2.3/8"}, Zones: []string{"frontend"}},
			sites: onPrem("croydon"),
		},
		"dual stack with pins in each family": {
			spec: Spec{
				Spaces: []string{"10.64.0.0/10", "fd00:64::/32"},
				Zones:  []string{"frontend", "backend"},
				SitePins: []SitePin{
					{Site: "croydon", CIDRs: []string{"10.100.0.0/14", "fd00:64:ff00::/40"}},
					{Site: "aws-london", CIDRs: []string{"10.96.0.0/16"}},
				},
			},
			sites: []Site{{Name: "croydon", Tier: OnPremises}, {Name: "aws-london", Tier: PublicCloud}},
		},
		"short site prefix when public cloud sites are pinned": {
			spec: Spec{
				Spaces:   []string{"10.0.0.0/8"},
				Zones:    []string{"frontend"},
				SitePins: []SitePin{{Site: "aws-london", CIDRs: []string{"10.200.0.0/16"}}},
				Policy:   Policy{SiteBits: 12},
			},
			sites: []Site{{Name: "aws-london", Tier: PublicCloud}, {Name: "croydon", Tier: OnPremises}},
		},
		"short site prefix with only IPv6 space": {
			spec:  Spec{Spaces: []string{"fd00::/16"}, Zones: []string{"frontend"}, Policy: Policy{SiteBits: 12}},
			sites: []Site{{Name: "aws-london", Tier: PublicCloud}},
		},
		"as many zones as a site block holds": {
			spec:  Spec{Spaces: []string{"10.0.0.0/8"}, Zones: []string{"a", "b", "c", "d"}, Policy: Policy{SiteBits: 16, ZoneBits: 18, WorkloadBits: 24}},
			sites: onPrem("croydon"),
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Validate(tt.spec, tt.sites); got != nil {
				t.Errorf("Validate = %+v, want no errors", got)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	spec := Spec{
		Spaces:    []string{"10.64.1.0/10", "bogus"},
		PSNRanges: []string{"10.0.0.0/8"},
		Zones:     []string{"frontend"},
		Policy:    Policy{ZoneBits: 16},
	}
	got := Validate(spec, onPrem("croydon"))
	var fields []string
	for _, e := range got {
		fields = append(fields, e.Field)
	}
	want := []string{
		"spec.addressSpaces[0]",
		"spec.addressSpaces[1]",
		"spec.psn.ranges[0]",
		"spec.allocation.zonePrefixLength",
	}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("fields of the errors (-want +got):\n%s", diff)
	}
}

func TestFieldErrorsError(t *testing.T) {
	err := FieldErrors{
		{Field: "spec.addressSpaces[0]", Message: "first"},
		{Field: "spec.zones", Message: "second"},
	}
	want := "invalid network spec: spec.addressSpaces[0]: first; spec.zones: second"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParsePSN(t *testing.T) {
	got, err := ParsePSN([]string{"51.0.0.0/8", "51.1.2.3/16", "2a00:1:2::/48"})
	if err != nil {
		t.Fatalf("ParsePSN: %v", err)
	}
	want := pfxs(t, "51.0.0.0/8", "51.1.0.0/16", "2a00:1:2::/48")
	if diff := cmp.Diff(want, got, prefixComparer); diff != "" {
		t.Errorf("ParsePSN (-want +got):\n%s", diff)
	}

	_, err = ParsePSN([]string{"51.0.0.0/8", "nope"})
	var fe FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("ParsePSN error %v is not FieldErrors", err)
	}
	if len(fe) != 1 || fe[0].Field != "spec.psn.ranges[1]" {
		t.Errorf("ParsePSN errors = %+v, want one for spec.psn.ranges[1]", fe)
	}
}

func TestAllocateRejectsInvalidSpec(t *testing.T) {
	spec := dualStackSpec()
	spec.Spaces = []string{"10.64.1.0/10"}
	_, _, err := Allocate(spec, onPrem("croydon"), nil, Plan{})
	var fe FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("Allocate error %v is not FieldErrors", err)
	}
	if len(fe) != 1 || fe[0].Suggestion != "10.64.0.0/10" {
		t.Errorf("Allocate errors = %+v, want the host bits error", fe)
	}
	if !strings.Contains(err.Error(), "spec.addressSpaces[0]") {
		t.Errorf("error %q does not name the field", err)
	}
}

func TestAllocateRunsDespiteUnknownPinnedSite(t *testing.T) {
	spec := Spec{
		Spaces:   []string{"10.0.0.0/14"},
		Zones:    []string{"frontend"},
		SitePins: []SitePin{{Site: "legacy-dc", CIDRs: []string{"10.0.0.0/16"}}},
	}
	plan, problems := mustAllocate(t, spec, onPrem("croydon"), nil, Plan{})
	if len(problems) != 0 {
		t.Errorf("problems = %+v, want none", problems)
	}
	got := siteFor(t, plan, "croydon").Prefixes
	want := pfxs(t, "10.1.0.0/16")
	if diff := cmp.Diff(want, got, prefixComparer); diff != "" {
		t.Errorf("croydon's block skips the reserved pin (-want +got):\n%s", diff)
	}
	for _, s := range plan.Sites {
		if s.Site == "legacy-dc" {
			t.Errorf("plan has a block for unknown site legacy-dc: %v", s.Prefixes)
		}
	}
}
