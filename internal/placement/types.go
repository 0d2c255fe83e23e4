// Package placement chooses a hosting site for each department workload.
//
// The policy is "cloud first": public cloud over private cloud over
// on-premises, and every decision records why each public-cloud site was
// rejected when the workload lands on a lower tier. The engine works on plain
// values with no I/O, so operators and the dry-run CLI share it. Place and
// PlaceAll keep no state between calls and are safe for concurrent use.
package placement

import "time"

// Tier is the kind of hosting a site offers.
type Tier string

const (
	PublicCloud  Tier = "PublicCloud"
	PrivateCloud Tier = "PrivateCloud"
	OnPremises   Tier = "OnPremises"
)

// Classification is a Government Security Classification marking. A site's
// accreditation uses the same values.
type Classification string

const (
	Official          Classification = "OFFICIAL"
	OfficialSensitive Classification = "OFFICIAL-SENSITIVE"
	Secret            Classification = "SECRET"
)

// rank orders classifications from 1 (OFFICIAL) to 3 (SECRET). It returns 0
// for any other value.
func (c Classification) rank() int {
	switch c {
	case Official:
		return 1
	case OfficialSensitive:
		return 2
	case Secret:
		return 3
	}
	return 0
}

// Valid reports whether c is one of OFFICIAL, OFFICIAL-SENSITIVE or SECRET.
func (c Classification) Valid() bool {
	return c.rank() > 0
}

// Covers reports whether accreditation a may hold classification c, with
// OFFICIAL < OFFICIAL-SENSITIVE < SECRET. It returns false when either value
// is not a valid classification.
func (a Classification) Covers(c Classification) bool {
	return a.Valid() && c.Valid() && a.rank() >= c.rank()
}

// Resources is an amount of compute. CPU is in thousandths of a core and
// memory in bytes.
type Resources struct {
	MilliCPU    int64
	MemoryBytes int64
}

// Site is a hosting site with its capacity and current allocation. Negative
// quantities count as zero.
type Site struct {
	Name          string
	Tier          Tier
	Jurisdiction  string // for example "UK"
	Accreditation Classification
	Capabilities  []string // for example "hsm", "specialist-scanner", "mainframe"
	Capacity      Resources
	MaxWorkloads  int64
	// Allocated and AllocatedWorkloads are held by other workloads. The caller
	// excludes the workload being placed, and for PlaceAll every workload passed.
	Allocated          Resources
	AllocatedWorkloads int64
	CostWeight         int32 // relative cost from 1 to 100, higher is dearer, with values outside clamped
	Ready              bool
	NotReadyReason     string // a phrase such as "cordoned" or "being deleted", quoted in the outcome message
	// Enclave names the Tier 2 enclave a SECRET-accredited site belongs to,
	// and Tenants lists the departments it serves. A SECRET site in no
	// enclave takes no workloads.
	Enclave string
	Tenants []string
}

// Exception is an approved exception to cloud first. While it is in force,
// public-cloud sites are ineligible. It is in force when Justification and
// Approver are set and Expires is after the placement time.
type Exception struct {
	Justification string
	Approver      string
	Expires       time.Time
}

// Workload is a department workload to place. Negative requests count as
// zero.
type Workload struct {
	Namespace, Name      string
	Classification       Classification
	Residency            []string // allowed site jurisdictions, compared ignoring case, or empty for any
	RequiredCapabilities []string
	Sites                []string // if non-empty, only these site names are allowed
	Exception            *Exception
	Requests             Resources
	CurrentSite          string // site the workload runs on now, or "" if unplaced
	// Department owns the workload. SECRET work goes only to an enclave
	// that lists it as a tenant.
	Department string
}

// Score is a site's points for a workload. Tier is 3000, 2000 or 1000, Cost
// is 0 to 99 and Headroom 0 to 100, so the tier always dominates.
type Score struct {
	Tier, Cost, Headroom, Total int32
}

// SiteOutcome is the verdict on one site for one workload.
type SiteOutcome struct {
	Site     string
	Tier     Tier
	Eligible bool
	Reason   Reason // Eligible, or the first filter that removed the site
	Message  string // one plain English sentence
	Score    Score  // zero when not eligible
}

// Decision is the placement of one workload.
type Decision struct {
	// Namespace and Name identify the workload, so PlaceAll results can be
	// matched up without relying on order.
	Namespace, Name string

	Site  string // "" when no site was chosen
	Tier  Tier
	Score Score

	Reason   Reason         // SiteChosen, SiteKept, NoEligibleSite or UnknownSite
	Message  string         // one or two sentences for a table or a status condition
	Outcomes []SiteOutcome  // every site considered, sorted by site name
	Removed  map[Reason]int // number of sites each filter removed; never nil
}

// PublicCloudRejections returns the outcomes of public-cloud sites that were
// not eligible, in site name order.
func (d Decision) PublicCloudRejections() []SiteOutcome {
	var rejected []SiteOutcome
	for _, o := range d.Outcomes {
		if o.Tier == PublicCloud && !o.Eligible {
			rejected = append(rejected, o)
		}
	}
	return rejected
}
