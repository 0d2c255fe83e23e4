// Package ipam plans the department network's addresses. It carves one
// block per IP family for each hosting site out of the address spaces, one
// block per zone out of each site block, and one block per workload out of
// its zone block.
//
// The functions are pure: they read plain values, return a new Plan and
// never modify their inputs, so the network operator can store the plan in
// the Network status and write it back with optimistic concurrency. They
// are stable: every block in the current plan that still fits the spec is
// kept at the same address, and new blocks go to the lowest free aligned
// address.
package ipam

import (
	"net/netip"
	"strings"
)

// Family is an IP address family.
type Family string

const (
	IPv4 Family = "IPv4"
	IPv6 Family = "IPv6"
)

// familyOf returns the family of p. IPv4-mapped IPv6 prefixes such as
// ::ffff:10.0.0.0/104 are IPv6.
func familyOf(p netip.Prefix) Family {
	if p.Addr().Is4() {
		return IPv4
	}
	return IPv6
}

// maxBits returns the address length of f in bits.
func (f Family) maxBits() int {
	if f == IPv4 {
		return 32
	}
	return 128
}

// Hosting site tiers, as in the HostingSite API.
const (
	PublicCloud  = "PublicCloud"
	PrivateCloud = "PrivateCloud"
	OnPremises   = "OnPremises"
)

// Public cloud limits on the IPv4 block of a site, as prefix lengths. They
// are the AWS EC2 CreateVpc limits: the largest VPC is a /16 and the
// smallest a /28.
const (
	cloudMinSiteBits = 16
	cloudMaxSiteBits = 28
)

// Policy sets the prefix lengths of the blocks carved for sites, for zones
// within a site, and for workloads within a zone, per family. A zero field
// takes its value from DefaultPolicy, as the API defaults do.
type Policy struct {
	SiteBits, ZoneBits, WorkloadBits    int // IPv4, for example 16, 20 and 27
	SiteBits6, ZoneBits6, WorkloadBits6 int // IPv6, for example 48, 56 and 64
}

// DefaultPolicy returns the API defaults: /16 sites, /20 zones and /27
// workloads for IPv4, and /48 sites, /56 zones and /64 workloads for IPv6.
func DefaultPolicy() Policy {
	return Policy{
		SiteBits: 16, ZoneBits: 20, WorkloadBits: 27,
		SiteBits6: 48, ZoneBits6: 56, WorkloadBits6: 64,
	}
}

// withDefaults returns p with every zero field set from DefaultPolicy.
func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	fill := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&p.SiteBits, d.SiteBits)
	fill(&p.ZoneBits, d.ZoneBits)
	fill(&p.WorkloadBits, d.WorkloadBits)
	fill(&p.SiteBits6, d.SiteBits6)
	fill(&p.ZoneBits6, d.ZoneBits6)
	fill(&p.WorkloadBits6, d.WorkloadBits6)
	return p
}

// lengths returns the site, zone and workload prefix lengths for f.
func (p Policy) lengths(f Family) (site, zone, workload int) {
	if f == IPv4 {
		return p.SiteBits, p.ZoneBits, p.WorkloadBits
	}
	return p.SiteBits6, p.ZoneBits6, p.WorkloadBits6
}

// SitePin fixes a site's blocks to ranges it already uses, such as a legacy
// data centre's. It mirrors one entry of the Network's spec.siteBlocks.
type SitePin struct {
	Site  string
	CIDRs []string // at most one per family
}

// Spec is the part of the Network spec that the address plan depends on.
// CIDRs are kept as the user wrote them so that Validate can name the
// field and the bad value.
type Spec struct {
	Spaces    []string  // spec.addressSpaces, IPv4 and IPv6
	PSNRanges []string  // spec.psn.ranges, which may be public address space
	Zones     []string  // spec.zones names
	SitePins  []SitePin // spec.siteBlocks, in the same order
	Policy    Policy    // spec.allocation
}

// Site is a hosting site that holds address blocks.
type Site struct {
	Name string
	Tier string // PublicCloud, PrivateCloud or OnPremises
}

// Holder is a workload that holds a block in its site's zone block.
type Holder struct {
	Key  string // "namespace/name"
	UID  string // so that a recreated workload does not inherit the old block
	Site string
	Zone string
}

// ZoneBlock is a zone's share of one site block.
type ZoneBlock struct {
	Zone     string
	Prefixes []netip.Prefix // one per family, IPv4 first
}

// SiteBlock is a site's share of the address spaces.
type SiteBlock struct {
	Site     string
	Prefixes []netip.Prefix // one per family, IPv4 first
	Zones    []ZoneBlock    // sorted by zone name
}

// WorkloadBlock is a holder's block within its site and zone.
type WorkloadBlock struct {
	Key, UID, Site, Zone string
	Prefixes             []netip.Prefix // one per family, IPv4 first
}

// Plan is the address plan. Allocate returns Sites sorted by name and
// Workloads sorted by key.
type Plan struct {
	Sites     []SiteBlock
	Workloads []WorkloadBlock
}

// FieldError is one problem with a Spec. Field is the API field path, for
// example "spec.addressSpaces[1]", and Suggestion is the corrected value
// when there is one.
type FieldError struct {
	Field, Value, Message, Suggestion string
}

func (e FieldError) Error() string {
	return e.Field + ": " + e.Message
}

// FieldErrors is the error that Allocate, AllocateHolder and Free return
// for an invalid Spec, and ParsePSN for ranges that are not CIDRs.
type FieldErrors []FieldError

func (errs FieldErrors) Error() string {
	messages := make([]string, len(errs))
	for i, e := range errs {
		messages[i] = e.Error()
	}
	return "invalid network spec: " + strings.Join(messages, "; ")
}

// Reasons for a Problem, in the style of Kubernetes condition reasons.
const (
	// ReasonAddressesExhausted means the parent block has no free block of
	// the size the policy sets.
	ReasonAddressesExhausted = "AddressesExhausted"
	// ReasonSiteNotFound means the holder's site is not among the sites, or
	// has no block in the plan.
	ReasonSiteNotFound = "SiteNotFound"
	// ReasonZoneNotFound means the holder's zone is not in spec.zones.
	ReasonZoneNotFound = "ZoneNotFound"
	// ReasonDuplicateHolder means another holder with the same key and a
	// UID that sorts first was given, and that one holds the block.
	ReasonDuplicateHolder = "DuplicateHolder"
)

// Problem is a site or holder that got no block. Key is the holder's
// "namespace/name", or the site name for a site, which never contains "/".
type Problem struct {
	Key, Reason, Message string
}

func (p Problem) Error() string {
	return p.Key + ": " + p.Message
}
