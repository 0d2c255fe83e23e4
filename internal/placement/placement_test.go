package placement

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

var testNow = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

// testSite returns a ready OFFICIAL-SENSITIVE UK site with 16 CPU, 64 GiB,
// 100 workload slots and cost weight 50, none of it allocated.
func testSite(name string, tier Tier) Site {
	return Site{
		Name:          name,
		Tier:          tier,
		Jurisdiction:  "UK",
		Accreditation: OfficialSensitive,
		Capacity:      Resources{MilliCPU: 16000, MemoryBytes: 64 * gib},
		MaxWorkloads:  100,
		CostWeight:    50,
		Ready:         true,
	}
}

// testWorkload returns an OFFICIAL-SENSITIVE workload requesting 1 CPU and
// 1 GiB. On a fresh testSite it scores cost 50 and headroom 93, because
// 15 of 16 CPU remain (93.75%), 63 of 64 GiB (98.4%) and 99 of 100 slots.
func testWorkload(name string) Workload {
	return Workload{
		Namespace:      "borders",
		Name:           name,
		Classification: OfficialSensitive,
		Requests:       Resources{MilliCPU: 1000, MemoryBytes: gib},
	}
}

func outcomeFor(t *testing.T, d Decision, site string) SiteOutcome {
	t.Helper()
	for _, o := range d.Outcomes {
		if o.Site == site {
			return o
		}
	}
	t.Fatalf("no outcome for site %q in %+v", site, d.Outcomes)
	return SiteOutcome{}
}

func TestPlaceFilters(t *testing.T) {
	validException := &Exception{
		Justification: "Scanner drivers need site hardware",
		Approver:      "Head of Borders IT",
		Expires:       testNow.AddDate(0, 1, 0),
	}
	expiredException := &Exception{
		Justification: "Scanner drivers need site hardware",
		Approver:      "Head of Borders IT",
		Expires:       testNow.AddDate(0, 0, -1),
	}

	tests := []struct {
		name        string
		tier        Tier
		editSite    func(*Site)
		editLoad    func(*Workload)
		wantReason  Reason
		wantMessage string
	}{
		{
			name:        "site passing every filter is eligible",
			wantReason:  Eligible,
			wantMessage: "Eligible with score 3143 (tier 3000, cost 50, headroom 93).",
		},
		{
			name:        "site missing from allowed sites",
			editLoad:    func(w *Workload) { w.Sites = []string{"zz-spare"} },
			wantReason:  NotInAllowedSites,
			wantMessage: "Not in the workload's allowed sites (zz-spare).",
		},
		{
			name:        "site cordoned",
			editSite:    func(s *Site) { s.Ready, s.NotReadyReason = false, "cordoned" },
			wantReason:  SiteNotReady,
			wantMessage: "Not ready (cordoned).",
		},
		{
			name:        "site not ready without a reason",
			editSite:    func(s *Site) { s.Ready = false },
			wantReason:  SiteNotReady,
			wantMessage: "Not ready.",
		},
		{
			name:        "secret workload on official-sensitive site",
			editLoad:    func(w *Workload) { w.Classification = Secret },
			wantReason:  AccreditationTooLow,
			wantMessage: "Accredited to OFFICIAL-SENSITIVE, below the workload's SECRET classification.",
		},
		{
			name:        "official-sensitive workload on official site",
			editSite:    func(s *Site) { s.Accreditation = Official },
			wantReason:  AccreditationTooLow,
			wantMessage: "Accredited to OFFICIAL, below the workload's OFFICIAL-SENSITIVE classification.",
		},
		{
			name:        "workload classification not valid",
			editLoad:    func(w *Workload) { w.Classification = "TOP-SECRET" },
			wantReason:  AccreditationTooLow,
			wantMessage: `The workload's classification "TOP-SECRET" is not one of OFFICIAL, OFFICIAL-SENSITIVE or SECRET.`,
		},
		{
			name:        "site accreditation missing",
			editSite:    func(s *Site) { s.Accreditation = "" },
			wantReason:  AccreditationTooLow,
			wantMessage: `Accreditation "" is not one of OFFICIAL, OFFICIAL-SENSITIVE or SECRET, so the site holds no workloads.`,
		},
		{
			name:        "official workload on secret enclave",
			tier:        OnPremises,
			editSite:    func(s *Site) { s.Accreditation = Secret },
			editLoad:    func(w *Workload) { w.Classification = Official },
			wantReason:  ReservedForSecret,
			wantMessage: "Accredited to SECRET, so it holds only SECRET workloads and this one is OFFICIAL.",
		},
		{
			name: "secret workload on secret enclave",
			tier: OnPremises,
			editSite: func(s *Site) {
				s.Accreditation, s.Enclave, s.Tenants = Secret, "tier-2", []string{"home-office"}
			},
			editLoad:    func(w *Workload) { w.Classification, w.Department = Secret, "home-office" },
			wantReason:  Eligible,
			wantMessage: "Eligible with score 1143 (tier 1000, cost 50, headroom 93).",
		},
		{
			name:        "secret site in no enclave",
			tier:        OnPremises,
			editSite:    func(s *Site) { s.Accreditation = Secret },
			editLoad:    func(w *Workload) { w.Classification, w.Department = Secret, "home-office" },
			wantReason:  NotEnclaveTenant,
			wantMessage: "Accredited to SECRET but part of no enclave, so it takes no workloads.",
		},
		{
			name: "department not an enclave tenant",
			tier: OnPremises,
			editSite: func(s *Site) {
				s.Accreditation, s.Enclave, s.Tenants = Secret, "tier-2", []string{"home-office", "national-crime-agency"}
			},
			editLoad:    func(w *Workload) { w.Classification, w.Department = Secret, "ministry-of-justice" },
			wantReason:  NotEnclaveTenant,
			wantMessage: "Department ministry-of-justice is not a tenant of enclave tier-2 (tenants: home-office, national-crime-agency).",
		},
		{
			name:        "site outside residency",
			editSite:    func(s *Site) { s.Jurisdiction = "US" },
			editLoad:    func(w *Workload) { w.Residency = []string{"UK", "EU"} },
			wantReason:  ResidencyMismatch,
			wantMessage: "Jurisdiction US is outside the workload's residency (EU, UK).",
		},
		{
			name:        "site without jurisdiction",
			editSite:    func(s *Site) { s.Jurisdiction = "" },
			editLoad:    func(w *Workload) { w.Residency = []string{"UK"} },
			wantReason:  ResidencyMismatch,
			wantMessage: "Jurisdiction is not set, so it cannot meet the workload's residency (UK).",
		},
		{
			name:        "residency ignores case",
			editSite:    func(s *Site) { s.Jurisdiction = "uk" },
			editLoad:    func(w *Workload) { w.Residency = []string{"UK"} },
			wantReason:  Eligible,
			wantMessage: "Eligible with score 3143 (tier 3000, cost 50, headroom 93).",
		},
		{
			name:        "site missing one capability",
			editSite:    func(s *Site) { s.Capabilities = []string{"hsm"} },
			editLoad:    func(w *Workload) { w.RequiredCapabilities = []string{"specialist-scanner", "hsm"} },
			wantReason:  MissingCapability,
			wantMessage: "Missing required capability specialist-scanner.",
		},
		{
			name:        "site missing two capabilities",
			editLoad:    func(w *Workload) { w.RequiredCapabilities = []string{"mainframe", "hsm", "mainframe"} },
			wantReason:  MissingCapability,
			wantMessage: "Missing required capabilities hsm, mainframe.",
		},
		{
			name:        "public site under a valid exception",
			editLoad:    func(w *Workload) { w.Exception = validException },
			wantReason:  CloudFirstException,
			wantMessage: `Excluded by the cloud-first exception "Scanner drivers need site hardware", approved by Head of Borders IT until 1 April 2026.`,
		},
		{
			name:        "private site under a valid exception",
			tier:        PrivateCloud,
			editLoad:    func(w *Workload) { w.Exception = validException },
			wantReason:  Eligible,
			wantMessage: "Eligible with score 2143 (tier 2000, cost 50, headroom 93).",
		},
		{
			name:        "private site under an expired exception",
			tier:        PrivateCloud,
			editLoad:    func(w *Workload) { w.Exception = expiredException },
			wantReason:  ExceptionExpired,
			wantMessage: "The cloud-first exception expired on 28 February 2026, so renew it or move the workload to public cloud.",
		},
		{
			name:        "public site under an expired exception",
			editLoad:    func(w *Workload) { w.Exception = expiredException },
			wantReason:  Eligible,
			wantMessage: "Eligible with score 3143 (tier 3000, cost 50, headroom 93).",
		},
		{
			name:        "site short of CPU",
			editSite:    func(s *Site) { s.Allocated.MilliCPU = 13500 },
			editLoad:    func(w *Workload) { w.Requests.MilliCPU = 4000 },
			wantReason:  InsufficientCapacity,
			wantMessage: "Not enough capacity: needs 4 CPU but 2.5 remain.",
		},
		{
			name:        "site short of memory",
			editSite:    func(s *Site) { s.Allocated.MemoryBytes = 62*gib + gib/2 },
			editLoad:    func(w *Workload) { w.Requests.MemoryBytes = 8 * gib },
			wantReason:  InsufficientCapacity,
			wantMessage: "Not enough capacity: needs 8 GiB memory but 1.5 GiB remain.",
		},
		{
			name:        "memory figures that round alike print bytes",
			editSite:    func(s *Site) { s.Allocated.MemoryBytes = 63 * gib },
			editLoad:    func(w *Workload) { w.Requests.MemoryBytes = gib + 1 },
			wantReason:  InsufficientCapacity,
			wantMessage: "Not enough capacity: needs 1073741825 B memory but 1073741824 B remain.",
		},
		{
			name:        "site without workload slots",
			editSite:    func(s *Site) { s.MaxWorkloads, s.AllocatedWorkloads = 10, 10 },
			wantReason:  InsufficientCapacity,
			wantMessage: "Not enough capacity: needs 1 workload slot but 0 of 10 remain.",
		},
		{
			name:        "site short of CPU and memory",
			editSite:    func(s *Site) { s.Allocated = Resources{MilliCPU: 13500, MemoryBytes: 62*gib + gib/2} },
			editLoad:    func(w *Workload) { w.Requests = Resources{MilliCPU: 4000, MemoryBytes: 8 * gib} },
			wantReason:  InsufficientCapacity,
			wantMessage: "Not enough capacity: needs 4 CPU but 2.5 remain and needs 8 GiB memory but 1.5 GiB remain.",
		},
		{
			name: "site short of everything",
			editSite: func(s *Site) {
				s.Allocated = Resources{MilliCPU: 13500, MemoryBytes: 62*gib + gib/2}
				s.MaxWorkloads, s.AllocatedWorkloads = 10, 12
			},
			editLoad:    func(w *Workload) { w.Requests = Resources{MilliCPU: 4000, MemoryBytes: 8 * gib} },
			wantReason:  InsufficientCapacity,
			wantMessage: "Not enough capacity: needs 4 CPU but 2.5 remain, needs 8 GiB memory but 1.5 GiB remain, and needs 1 workload slot but 0 of 10 remain.",
		},
		{
			name:        "over-committed site reports zero remaining",
			editSite:    func(s *Site) { s.Allocated.MilliCPU = 20000 },
			wantReason:  InsufficientCapacity,
			wantMessage: "Not enough capacity: needs 1 CPU but 0 remain.",
		},
		{
			name:        "zero request fits an over-committed dimension",
			editSite:    func(s *Site) { s.Allocated.MilliCPU = 20000 },
			editLoad:    func(w *Workload) { w.Requests.MilliCPU = 0 },
			wantReason:  Eligible,
			wantMessage: "Eligible with score 3050 (tier 3000, cost 50, headroom 0).",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tier := tt.tier
			if tier == "" {
				tier = PublicCloud
			}
			target := testSite("aws-london", tier)
			if tt.editSite != nil {
				tt.editSite(&target)
			}
			w := testWorkload("warnings-index")
			if tt.editLoad != nil {
				tt.editLoad(&w)
			}
			sites := []Site{target, testSite("zz-spare", OnPremises)}

			d := Place(w, sites, testNow)
			got := outcomeFor(t, d, "aws-london")

			if got.Reason != tt.wantReason {
				t.Errorf("Reason = %s, want %s", got.Reason, tt.wantReason)
			}
			if got.Message != tt.wantMessage {
				t.Errorf("Message = %q, want %q", got.Message, tt.wantMessage)
			}
			if got.Eligible != (tt.wantReason == Eligible) {
				t.Errorf("Eligible = %v with reason %s", got.Eligible, got.Reason)
			}
			if !got.Eligible && got.Score != (Score{}) {
				t.Errorf("Score = %+v for an ineligible site, want zero", got.Score)
			}
			if got.Tier != tier {
				t.Errorf("Tier = %s, want %s", got.Tier, tier)
			}
			if !got.Eligible && d.Removed[tt.wantReason] < 1 {
				t.Errorf("Removed = %v, want %s counted", d.Removed, tt.wantReason)
			}
		})
	}
}

func TestPlaceFilterOrder(t *testing.T) {
	tests := []struct {
		name       string
		tier       Tier
		editSite   func(*Site)
		editLoad   func(*Workload)
		wantReason Reason
	}{
		{
			name:       "allowed sites before readiness",
			editSite:   func(s *Site) { s.Ready = false },
			editLoad:   func(w *Workload) { w.Sites = []string{"zz-spare"} },
			wantReason: NotInAllowedSites,
		},
		{
			name:       "readiness before accreditation",
			editSite:   func(s *Site) { s.Ready, s.Accreditation = false, Official },
			wantReason: SiteNotReady,
		},
		{
			name:       "accreditation before residency",
			editSite:   func(s *Site) { s.Accreditation, s.Jurisdiction = Official, "US" },
			editLoad:   func(w *Workload) { w.Residency = []string{"UK"} },
			wantReason: AccreditationTooLow,
		},
		{
			name:       "secret reservation before residency",
			editSite:   func(s *Site) { s.Accreditation, s.Jurisdiction = Secret, "US" },
			editLoad:   func(w *Workload) { w.Residency = []string{"UK"} },
			wantReason: ReservedForSecret,
		},
		{
			name:       "residency before capabilities",
			editSite:   func(s *Site) { s.Jurisdiction = "US" },
			editLoad:   func(w *Workload) { w.Residency, w.RequiredCapabilities = []string{"UK"}, []string{"hsm"} },
			wantReason: ResidencyMismatch,
		},
		{
			name:     "capabilities before exception",
			editSite: func(s *Site) {},
			editLoad: func(w *Workload) {
				w.RequiredCapabilities = []string{"hsm"}
				w.Exception = &Exception{Justification: "drivers", Approver: "CTO", Expires: testNow.Add(time.Hour)}
			},
			wantReason: MissingCapability,
		},
		{
			name:     "exception before capacity",
			editSite: func(s *Site) { s.MaxWorkloads = 0 },
			editLoad: func(w *Workload) {
				w.Exception = &Exception{Justification: "drivers", Approver: "CTO", Expires: testNow.Add(time.Hour)}
			},
			wantReason: CloudFirstException,
		},
		{
			name:     "expired exception before capacity",
			tier:     PrivateCloud,
			editSite: func(s *Site) { s.MaxWorkloads = 0 },
			editLoad: func(w *Workload) {
				w.Exception = &Exception{Justification: "drivers", Approver: "CTO", Expires: testNow}
			},
			wantReason: ExceptionExpired,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tier := tt.tier
			if tier == "" {
				tier = PublicCloud
			}
			target := testSite("aws-london", tier)
			if tt.editSite != nil {
				tt.editSite(&target)
			}
			w := testWorkload("warnings-index")
			if tt.editLoad != nil {
				tt.editLoad(&w)
			}

			d := Place(w, []Site{target, testSite("zz-spare", OnPremises)}, testNow)

			if got := outcomeFor(t, d, "aws-london").Reason; got != tt.wantReason {
				t.Errorf("Reason = %s, want %s", got, tt.wantReason)
			}
		})
	}
}

func TestPlaceScore(t *testing.T) {
	tests := []struct {
		name     string
		tier     Tier
		editSite func(*Site)
		editLoad func(*Workload)
		want     Score
	}{
		{
			name: "on-premises tier points",
			tier: OnPremises,
			want: Score{Tier: 1000, Cost: 50, Headroom: 93, Total: 1143},
		},
		{
			name:     "cost weight below 1 counts as 1",
			editSite: func(s *Site) { s.CostWeight = 0 },
			want:     Score{Tier: 3000, Cost: 99, Headroom: 93, Total: 3192},
		},
		{
			name:     "cost weight above 100 counts as 100",
			editSite: func(s *Site) { s.CostWeight = 250 },
			want:     Score{Tier: 3000, Cost: 0, Headroom: 93, Total: 3093},
		},
		{
			// Memory leaves 64 - 48 - 1 = 15 of 64 GiB, which is 23.4%.
			name:     "headroom is the tightest dimension",
			editSite: func(s *Site) { s.Allocated.MemoryBytes = 48 * gib },
			want:     Score{Tier: 3000, Cost: 50, Headroom: 23, Total: 3073},
		},
		{
			name:     "last workload slot leaves no headroom",
			editSite: func(s *Site) { s.MaxWorkloads, s.AllocatedWorkloads = 5, 4 },
			want:     Score{Tier: 3000, Cost: 50, Headroom: 0, Total: 3050},
		},
		{
			name:     "zero capacity dimension counts as no headroom",
			editSite: func(s *Site) { s.Capacity.MemoryBytes = 0 },
			editLoad: func(w *Workload) { w.Requests.MemoryBytes = 0 },
			want:     Score{Tier: 3000, Cost: 50, Headroom: 0, Total: 3050},
		},
		{
			name:     "empty workload on empty site",
			editLoad: func(w *Workload) { w.Requests = Resources{} },
			want:     Score{Tier: 3000, Cost: 50, Headroom: 99, Total: 3149},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tier := tt.tier
			if tier == "" {
				tier = PublicCloud
			}
			s := testSite("aws-london", tier)
			if tt.editSite != nil {
				tt.editSite(&s)
			}
			w := testWorkload("warnings-index")
			if tt.editLoad != nil {
				tt.editLoad(&w)
			}

			d := Place(w, []Site{s}, testNow)

			if d.Site != "aws-london" {
				t.Fatalf("Site = %q (%s), want aws-london", d.Site, d.Message)
			}
			if d.Score != tt.want {
				t.Errorf("Score = %+v, want %+v", d.Score, tt.want)
			}
			if got := d.Outcomes[0].Score; got != tt.want {
				t.Errorf("outcome Score = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPlaceTieBreaksByName(t *testing.T) {
	sites := []Site{testSite("b-site", PublicCloud), testSite("a-site", PublicCloud)}

	d := Place(testWorkload("warnings-index"), sites, testNow)

	if d.Site != "a-site" {
		t.Errorf("Site = %q, want a-site", d.Site)
	}
	if d.Reason != SiteChosen {
		t.Errorf("Reason = %s, want SiteChosen", d.Reason)
	}
	if a, b := outcomeFor(t, d, "a-site").Score, outcomeFor(t, d, "b-site").Score; a != b {
		t.Errorf("scores differ (%+v and %+v), so the test does not exercise a tie", a, b)
	}
}

func TestPlaceTierDominates(t *testing.T) {
	// The public site is as dear as allowed and nearly full. The others are
	// as cheap as allowed and empty, so they win on cost and headroom.
	dear := testSite("aws-dear", PublicCloud)
	dear.CostWeight = 100
	dear.Capacity.MilliCPU = 1100
	cheapPrivate := testSite("crown-cheap", PrivateCloud)
	cheapPrivate.CostWeight = 1
	cheapOnPremises := testSite("dc-cheap", OnPremises)
	cheapOnPremises.CostWeight = 1

	d := Place(testWorkload("warnings-index"), []Site{cheapOnPremises, cheapPrivate, dear}, testNow)

	if d.Site != "aws-dear" {
		t.Errorf("Site = %q, want aws-dear", d.Site)
	}
	public := outcomeFor(t, d, "aws-dear").Score
	private := outcomeFor(t, d, "crown-cheap").Score
	if private.Cost+private.Headroom <= public.Cost+public.Headroom {
		t.Errorf("private cost+headroom %d not above public %d, so the test does not exercise dominance",
			private.Cost+private.Headroom, public.Cost+public.Headroom)
	}
	if private.Total <= outcomeFor(t, d, "dc-cheap").Score.Total {
		t.Errorf("private total %d not above on-premises total", private.Total)
	}
}

func TestPlaceDecisionMessage(t *testing.T) {
	officialOnly := testSite("aws-london", PublicCloud)
	officialOnly.Accreditation = Official
	euOnly := testSite("azure-eu", PublicCloud)
	euOnly.Jurisdiction = "EU"
	cordoned := testSite("crown-dc", PrivateCloud)
	cordoned.Ready, cordoned.NotReadyReason = false, "cordoned"

	tests := []struct {
		name        string
		sites       []Site
		editLoad    func(*Workload)
		wantSite    string
		wantReason  Reason
		wantMessage string
	}{
		{
			name:        "public cloud chosen",
			sites:       []Site{testSite("aws-london", PublicCloud), testSite("crown-dc", PrivateCloud)},
			wantSite:    "aws-london",
			wantReason:  SiteChosen,
			wantMessage: "Placed on aws-london (PublicCloud, score 3143).",
		},
		{
			name:        "private cloud chosen lists public rejections",
			sites:       []Site{euOnly, testSite("crown-dc", PrivateCloud), officialOnly},
			editLoad:    func(w *Workload) { w.Residency = []string{"UK"} },
			wantSite:    "crown-dc",
			wantReason:  SiteChosen,
			wantMessage: "Placed on crown-dc (PrivateCloud, score 2143). Public cloud rejected: aws-london: AccreditationTooLow, azure-eu: ResidencyMismatch.",
		},
		{
			name:        "no public site configured",
			sites:       []Site{testSite("crown-dc", PrivateCloud)},
			wantSite:    "crown-dc",
			wantReason:  SiteChosen,
			wantMessage: "Placed on crown-dc (PrivateCloud, score 2143). No public-cloud site is configured.",
		},
		{
			name:        "moved from a site no longer ready",
			sites:       []Site{cordoned, testSite("crown-dc-2", PrivateCloud), officialOnly},
			editLoad:    func(w *Workload) { w.CurrentSite = "crown-dc" },
			wantSite:    "crown-dc-2",
			wantReason:  SiteChosen,
			wantMessage: "Placed on crown-dc-2 (PrivateCloud, score 2143), moved from crown-dc (SiteNotReady). Public cloud rejected: aws-london: AccreditationTooLow.",
		},
		{
			name:        "moved from a site that no longer exists",
			sites:       []Site{testSite("aws-london", PublicCloud)},
			editLoad:    func(w *Workload) { w.CurrentSite = "old-dc" },
			wantSite:    "aws-london",
			wantReason:  SiteChosen,
			wantMessage: "Placed on aws-london (PublicCloud, score 3143), moved from old-dc, which is not a known site.",
		},
		{
			name:        "kept on public cloud",
			sites:       []Site{testSite("aws-london", PublicCloud), testSite("aws-b", PublicCloud)},
			editLoad:    func(w *Workload) { w.CurrentSite = "aws-london" },
			wantSite:    "aws-london",
			wantReason:  SiteKept,
			wantMessage: "Kept on aws-london (PublicCloud, score 3143) because it is still eligible.",
		},
		{
			name:  "exception with no approver is ignored",
			sites: []Site{testSite("aws-london", PublicCloud), testSite("crown-dc", PrivateCloud)},
			editLoad: func(w *Workload) {
				w.Exception = &Exception{Justification: "drivers", Expires: testNow.AddDate(1, 0, 0)}
			},
			wantSite:    "aws-london",
			wantReason:  SiteChosen,
			wantMessage: "Placed on aws-london (PublicCloud, score 3143). The cloud-first exception was ignored because it has no approver.",
		},
		{
			name:        "exception with nothing filled in is ignored",
			sites:       []Site{testSite("aws-london", PublicCloud)},
			editLoad:    func(w *Workload) { w.Exception = &Exception{Approver: " ", Expires: testNow.AddDate(1, 0, 0)} },
			wantSite:    "aws-london",
			wantReason:  SiteChosen,
			wantMessage: "Placed on aws-london (PublicCloud, score 3143). The cloud-first exception was ignored because it has no justification or approver.",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := testWorkload("warnings-index")
			if tt.editLoad != nil {
				tt.editLoad(&w)
			}

			d := Place(w, tt.sites, testNow)

			if d.Site != tt.wantSite {
				t.Errorf("Site = %q, want %q", d.Site, tt.wantSite)
			}
			if d.Reason != tt.wantReason {
				t.Errorf("Reason = %s, want %s", d.Reason, tt.wantReason)
			}
			if d.Message != tt.wantMessage {
				t.Errorf("Message = %q, want %q", d.Message, tt.wantMessage)
			}
		})
	}
}

func TestPlaceStability(t *testing.T) {
	cheapPublic := testSite("aws-london", PublicCloud)
	cheapPublic.CostWeight = 1
	current := testSite("crown-dc", PrivateCloud)
	current.CostWeight = 100

	t.Run("kept although a cheaper public site exists", func(t *testing.T) {
		w := testWorkload("warnings-index")
		w.CurrentSite = "crown-dc"

		d := Place(w, []Site{cheapPublic, current}, testNow)

		if d.Site != "crown-dc" {
			t.Errorf("Site = %q, want crown-dc", d.Site)
		}
		if d.Reason != SiteKept {
			t.Errorf("Reason = %s, want SiteKept", d.Reason)
		}
		if public := outcomeFor(t, d, "aws-london").Score.Total; public <= d.Score.Total {
			t.Errorf("public total %d not above kept total %d, so the test does not exercise stability", public, d.Score.Total)
		}
		want := "Kept on crown-dc (PrivateCloud, score 2093) for stability, although public-cloud site aws-london is eligible."
		if d.Message != want {
			t.Errorf("Message = %q, want %q", d.Message, want)
		}
	})

	t.Run("moved when the current site no longer qualifies", func(t *testing.T) {
		w := testWorkload("warnings-index")
		w.CurrentSite = "crown-dc"
		w.RequiredCapabilities = []string{"hsm"}
		hsmPublic := cheapPublic
		hsmPublic.Capabilities = []string{"hsm"}

		d := Place(w, []Site{hsmPublic, current}, testNow)

		if d.Site != "aws-london" {
			t.Errorf("Site = %q, want aws-london", d.Site)
		}
		if d.Reason != SiteChosen {
			t.Errorf("Reason = %s, want SiteChosen", d.Reason)
		}
		want := "Placed on aws-london (PublicCloud, score 3192), moved from crown-dc (MissingCapability)."
		if d.Message != want {
			t.Errorf("Message = %q, want %q", d.Message, want)
		}
	})
}

func TestPlaceExceptionBoundary(t *testing.T) {
	sites := []Site{testSite("aws-london", PublicCloud), testSite("crown-dc", PrivateCloud)}
	exception := func(expires time.Time) *Exception {
		return &Exception{Justification: "Scanner drivers need site hardware", Approver: "Head of Borders IT", Expires: expires}
	}

	t.Run("expiry equal to now has expired", func(t *testing.T) {
		w := testWorkload("warnings-index")
		w.Exception = exception(testNow)

		d := Place(w, sites, testNow)

		if d.Site != "aws-london" {
			t.Errorf("Site = %q, want aws-london", d.Site)
		}
		private := outcomeFor(t, d, "crown-dc")
		if private.Reason != ExceptionExpired {
			t.Errorf("crown-dc Reason = %s, want ExceptionExpired", private.Reason)
		}
		want := "The cloud-first exception expired on 1 March 2026, so renew it or move the workload to public cloud."
		if private.Message != want {
			t.Errorf("crown-dc Message = %q, want %q", private.Message, want)
		}
	})

	t.Run("expiry a nanosecond after now is in force", func(t *testing.T) {
		w := testWorkload("warnings-index")
		w.Exception = exception(testNow.Add(time.Nanosecond))

		d := Place(w, sites, testNow)

		if d.Site != "crown-dc" {
			t.Errorf("Site = %q, want crown-dc", d.Site)
		}
		if got := outcomeFor(t, d, "aws-london").Reason; got != CloudFirstException {
			t.Errorf("aws-london Reason = %s, want CloudFirstException", got)
		}
		want := "Placed on crown-dc (PrivateCloud, score 2143). Public cloud rejected: aws-london: CloudFirstException."
		if d.Message != want {
			t.Errorf("Message = %q, want %q", d.Message, want)
		}
	})
}

func TestPlaceUnknownSite(t *testing.T) {
	sites := []Site{testSite("crown-dc", PrivateCloud), testSite("aws-london", PublicCloud)}

	tests := []struct {
		name        string
		allowed     []string
		sites       []Site
		wantMessage string
	}{
		{
			name:        "one unknown site",
			allowed:     []string{"crown-dc", "nowhere"},
			sites:       sites,
			wantMessage: `Allowed site "nowhere" does not exist. Valid site names are aws-london, crown-dc.`,
		},
		{
			name:        "two unknown sites",
			allowed:     []string{"nowhere", "crown-dc", "atlantis"},
			sites:       sites,
			wantMessage: `Allowed sites "atlantis", "nowhere" do not exist. Valid site names are aws-london, crown-dc.`,
		},
		{
			name:        "no sites configured",
			allowed:     []string{"crown-dc"},
			wantMessage: `Allowed site "crown-dc" does not exist. No sites are configured.`,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := testWorkload("warnings-index")
			w.Sites = tt.allowed

			d := Place(w, tt.sites, testNow)

			if d.Reason != UnknownSite {
				t.Errorf("Reason = %s, want UnknownSite", d.Reason)
			}
			if d.Site != "" {
				t.Errorf("Site = %q, want none", d.Site)
			}
			if d.Message != tt.wantMessage {
				t.Errorf("Message = %q, want %q", d.Message, tt.wantMessage)
			}
			if len(d.Outcomes) != len(tt.sites) {
				t.Errorf("got %d outcomes, want %d", len(d.Outcomes), len(tt.sites))
			}
		})
	}
}

func TestPlaceNoEligibleSite(t *testing.T) {
	var sites []Site
	for _, name := range []string{"official-1", "official-2", "official-3"} {
		s := testSite(name, PublicCloud)
		s.Accreditation = Official
		sites = append(sites, s)
	}
	sites = append(sites, testSite("plain-1", PrivateCloud), testSite("plain-2", OnPremises))
	for _, name := range []string{"full-1", "full-2"} {
		s := testSite(name, PrivateCloud)
		s.Capabilities = []string{"hsm"}
		s.AllocatedWorkloads = s.MaxWorkloads
		sites = append(sites, s)
	}
	w := testWorkload("warnings-index")
	w.RequiredCapabilities = []string{"hsm"}

	d := Place(w, sites, testNow)

	if d.Reason != NoEligibleSite {
		t.Errorf("Reason = %s, want NoEligibleSite", d.Reason)
	}
	if d.Site != "" {
		t.Errorf("Site = %q, want none", d.Site)
	}
	wantMessage := "No eligible site among 7: 3 AccreditationTooLow, 2 MissingCapability, 2 InsufficientCapacity."
	if d.Message != wantMessage {
		t.Errorf("Message = %q, want %q", d.Message, wantMessage)
	}
	wantRemoved := map[Reason]int{AccreditationTooLow: 3, MissingCapability: 2, InsufficientCapacity: 2}
	if !reflect.DeepEqual(d.Removed, wantRemoved) {
		t.Errorf("Removed = %v, want %v", d.Removed, wantRemoved)
	}
}

func TestPlaceWithoutSites(t *testing.T) {
	d := Place(testWorkload("warnings-index"), nil, testNow)

	if d.Reason != NoEligibleSite {
		t.Errorf("Reason = %s, want NoEligibleSite", d.Reason)
	}
	if want := "No eligible site because no sites are configured."; d.Message != want {
		t.Errorf("Message = %q, want %q", d.Message, want)
	}
	if d.Removed == nil {
		t.Error("Removed is nil, want an empty map")
	}
	if len(d.Outcomes) != 0 {
		t.Errorf("Outcomes = %+v, want none", d.Outcomes)
	}
}

func TestPublicCloudRejections(t *testing.T) {
	officialOnly := testSite("aws-london", PublicCloud)
	officialOnly.Accreditation = Official
	euOnly := testSite("azure-eu", PublicCloud)
	euOnly.Jurisdiction = "EU"
	w := testWorkload("warnings-index")
	w.Residency = []string{"UK"}

	d := Place(w, []Site{testSite("crown-dc", PrivateCloud), euOnly, officialOnly, testSite("gcp-london", PublicCloud)}, testNow)
	rejected := d.PublicCloudRejections()

	var got []string
	for _, o := range rejected {
		got = append(got, o.Site+" "+string(o.Reason))
	}
	want := []string{"aws-london AccreditationTooLow", "azure-eu ResidencyMismatch"}
	if !slices.Equal(got, want) {
		t.Errorf("PublicCloudRejections = %v, want %v", got, want)
	}
}

func TestPlaceAllCapacity(t *testing.T) {
	t.Run("small site fills and later workloads go elsewhere", func(t *testing.T) {
		small := testSite("aws-small", PublicCloud)
		small.MaxWorkloads = 2
		sites := []Site{small, testSite("crown-dc", PrivateCloud)}
		workloads := []Workload{testWorkload("c"), testWorkload("a"), testWorkload("b")}

		decisions := PlaceAll(workloads, sites, testNow)

		var got []string
		for _, d := range decisions {
			got = append(got, d.Name+"@"+d.Site)
		}
		want := []string{"a@aws-small", "b@aws-small", "c@crown-dc"}
		if !slices.Equal(got, want) {
			t.Fatalf("placements = %v, want %v", got, want)
		}
		last := decisions[2]
		wantMessage := "Placed on crown-dc (PrivateCloud, score 2143). Public cloud rejected: aws-small: InsufficientCapacity."
		if last.Message != wantMessage {
			t.Errorf("Message = %q, want %q", last.Message, wantMessage)
		}
		wantOutcome := "Not enough capacity: needs 1 workload slot but 0 of 2 remain."
		if got := outcomeFor(t, last, "aws-small").Message; got != wantOutcome {
			t.Errorf("aws-small Message = %q, want %q", got, wantOutcome)
		}
	})

	t.Run("only site fills and later workloads find none", func(t *testing.T) {
		small := testSite("aws-small", PublicCloud)
		small.Capacity.MilliCPU = 2500
		workloads := []Workload{testWorkload("b"), testWorkload("c"), testWorkload("a")}

		decisions := PlaceAll(workloads, []Site{small}, testNow)

		if decisions[1].Site != "aws-small" {
			t.Errorf("second workload Site = %q, want aws-small", decisions[1].Site)
		}
		last := decisions[2]
		if last.Reason != NoEligibleSite {
			t.Errorf("third workload Reason = %s, want NoEligibleSite", last.Reason)
		}
		if want := "No eligible site among 1: 1 InsufficientCapacity."; last.Message != want {
			t.Errorf("Message = %q, want %q", last.Message, want)
		}
		if want := "Not enough capacity: needs 1 CPU but 0.5 remain."; last.Outcomes[0].Message != want {
			t.Errorf("outcome Message = %q, want %q", last.Outcomes[0].Message, want)
		}
	})

	t.Run("earlier workload takes the current site's last slot", func(t *testing.T) {
		small := testSite("aws-small", PublicCloud)
		small.MaxWorkloads = 1
		onSmall := testWorkload("z")
		onSmall.CurrentSite = "aws-small"
		sites := []Site{small, testSite("crown-dc", PrivateCloud)}

		decisions := PlaceAll([]Workload{onSmall, testWorkload("a")}, sites, testNow)

		if decisions[0].Site != "aws-small" {
			t.Errorf("a Site = %q, want aws-small", decisions[0].Site)
		}
		if decisions[1].Site != "crown-dc" {
			t.Errorf("z Site = %q, want crown-dc because a took the only slot", decisions[1].Site)
		}
		if decisions[1].Reason != SiteChosen {
			t.Errorf("z Reason = %s, want SiteChosen", decisions[1].Reason)
		}
	})
}

func TestPlaceAllOrder(t *testing.T) {
	workloads := []Workload{testWorkload("b"), testWorkload("a"), testWorkload("a")}
	workloads[0].Namespace = "alpha"
	workloads[2].Namespace = "zulu"

	decisions := PlaceAll(workloads, []Site{testSite("aws-london", PublicCloud)}, testNow)

	var got []string
	for _, d := range decisions {
		got = append(got, d.Namespace+"/"+d.Name)
	}
	want := []string{"alpha/b", "borders/a", "zulu/a"}
	if !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

func TestPlaceInputOrderIndependence(t *testing.T) {
	sites, workloads := generateEstate(7, 40, 300)
	rng := rand.New(rand.NewPCG(1, 2))

	want := PlaceAll(workloads, sites, testNow)
	for round := range 5 {
		shuffledSites := cloneSites(sites)
		rng.Shuffle(len(shuffledSites), func(i, j int) { shuffledSites[i], shuffledSites[j] = shuffledSites[j], shuffledSites[i] })
		shuffledWorkloads := cloneWorkloads(workloads)
		rng.Shuffle(len(shuffledWorkloads), func(i, j int) {
			shuffledWorkloads[i], shuffledWorkloads[j] = shuffledWorkloads[j], shuffledWorkloads[i]
		})

		if got := PlaceAll(shuffledWorkloads, shuffledSites, testNow); !reflect.DeepEqual(got, want) {
			t.Errorf("PlaceAll differs after shuffle %d", round)
		}
		for i := range 20 {
			if got, want := Place(workloads[i], shuffledSites, testNow), Place(workloads[i], sites, testNow); !reflect.DeepEqual(got, want) {
				t.Errorf("Place(%s) differs after shuffle %d", workloads[i].Name, round)
			}
		}
	}
}

func TestPlaceDuplicateNamesIndependentOfOrder(t *testing.T) {
	first := testSite("twin", PublicCloud)
	second := testSite("twin", PublicCloud)
	second.CostWeight = 10
	w := testWorkload("warnings-index")
	w.CurrentSite = "twin"

	forward := PlaceAll([]Workload{w, w}, []Site{first, second}, testNow)
	backward := PlaceAll([]Workload{w, w}, []Site{second, first}, testNow)

	if !reflect.DeepEqual(forward, backward) {
		t.Errorf("decisions depend on the order of same-named sites:\n%+v\n%+v", forward, backward)
	}
}

// Place reuses identical messages across sites, so each outcome message is
// checked against the message for that site alone.
func TestPlaceReusedMessagesMatchSingleSite(t *testing.T) {
	sites, workloads := generateEstate(5, 60, 40)
	for _, w := range workloads {
		d := Place(w, sites, testNow)
		for _, s := range sites {
			alone := Place(w, []Site{s}, testNow).Outcomes[0]
			if got := outcomeFor(t, d, s.Name); got.Message != alone.Message {
				t.Errorf("%s on %s: message %q, alone %q", w.Name, s.Name, got.Message, alone.Message)
			}
		}
	}
}

func TestPlaceDoesNotMutateInputs(t *testing.T) {
	sites, workloads := generateEstate(11, 30, 200)
	sitesBefore := cloneSites(sites)
	workloadsBefore := cloneWorkloads(workloads)

	PlaceAll(workloads, sites, testNow)
	for _, w := range workloads[:20] {
		Place(w, sites, testNow)
	}

	if !reflect.DeepEqual(sites, sitesBefore) {
		t.Error("sites changed")
	}
	if !reflect.DeepEqual(workloads, workloadsBefore) {
		t.Error("workloads changed")
	}
}

func TestClassificationCovers(t *testing.T) {
	tests := []struct {
		name           string
		accreditation  Classification
		classification Classification
		want           bool
	}{
		{"official holds official", Official, Official, true},
		{"official rejects official-sensitive", Official, OfficialSensitive, false},
		{"official-sensitive holds official", OfficialSensitive, Official, true},
		{"official-sensitive holds official-sensitive", OfficialSensitive, OfficialSensitive, true},
		{"official-sensitive rejects secret", OfficialSensitive, Secret, false},
		{"secret holds official", Secret, Official, true},
		{"secret holds secret", Secret, Secret, true},
		{"unknown accreditation holds nothing", "RESTRICTED", Official, false},
		{"unknown classification fits nowhere", Secret, "TOP-SECRET", false},
		{"lower-case marking is not valid", Secret, "official", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.accreditation.Covers(tt.classification); got != tt.want {
				t.Errorf("%q.Covers(%q) = %v, want %v", tt.accreditation, tt.classification, got, tt.want)
			}
		})
	}
}

func TestAppendCPU(t *testing.T) {
	tests := map[string]struct {
		milli int64
		want  string
	}{
		"zero":             {0, "0"},
		"whole cores":      {4000, "4"},
		"half core":        {2500, "2.5"},
		"quarter core":     {250, "0.25"},
		"one millicore":    {1, "0.001"},
		"three decimals":   {1234, "1.234"},
		"largest quantity": {math.MaxInt64, "9223372036854775.807"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := string(appendCPU(nil, tt.milli)); got != tt.want {
				t.Errorf("appendCPU(%d) = %q, want %q", tt.milli, got, tt.want)
			}
		})
	}
}

func TestAppendBytes(t *testing.T) {
	tests := map[string]struct {
		bytes int64
		want  string
	}{
		"zero":                  {0, "0 B"},
		"below a kibibyte":      {1023, "1023 B"},
		"one kibibyte":          {1024, "1 KiB"},
		"one and a half KiB":    {1536, "1.5 KiB"},
		"one and a quarter GiB": {gib + gib/4, "1.25 GiB"},
		"rounded down":          {gib - 1, "1023.99 MiB"},
		"largest quantity":      {math.MaxInt64, "7.99 EiB"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := string(appendBytes(nil, tt.bytes)); got != tt.want {
				t.Errorf("appendBytes(%d) = %q, want %q", tt.bytes, got, tt.want)
			}
		})
	}
}
