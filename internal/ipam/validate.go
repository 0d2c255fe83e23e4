package ipam

import (
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"go4.org/netipx"
)

// parsedSpec is a Spec with its CIDRs parsed and its policy defaulted. It
// keeps whatever parsed, so that checks after a bad value still run.
type parsedSpec struct {
	policy      Policy
	spaces      []netip.Prefix
	spaceFields []string // field path of each entry of spaces
	spaceSet    *netipx.IPSet
	families    []Family        // families with an address space, IPv4 first
	zones       []string        // sorted and without duplicates
	zoneSet     map[string]bool // the same zones, for lookups
	pins        map[string]map[Family]netip.Prefix
	pinList     []pinnedBlock
	pinSet      *netipx.IPSet
}

// pinnedBlock is one parsed CIDR of spec.siteBlocks.
type pinnedBlock struct {
	field  string
	raw    string
	site   string
	prefix netip.Prefix
}

// issue is a FieldError with whether it stops allocation. An advisory
// issue, such as a pin for a site that does not exist yet, is reported by
// Validate but lets Allocate run.
type issue struct {
	FieldError
	advisory bool
}

// Validate checks spec against the hosting sites and returns every problem
// found, in the order of the spec's fields, or nil when there is none.
//
// Public address space in spec.Spaces is accepted, because the department
// may own some. PSN ranges are checked only for syntax and for overlap with
// the address spaces. A pin for a site missing from sites is reported, but
// it does not stop Allocate, which keeps the pinned range reserved.
func Validate(spec Spec, sites []Site) []FieldError {
	ps, issues := parseSpec(spec)
	issues = append(issues, checkSites(ps, spec, sites)...)
	if len(issues) == 0 {
		return nil
	}
	errs := make([]FieldError, len(issues))
	for i, is := range issues {
		errs[i] = is.FieldError
	}
	return errs
}

// blockingErrors returns the issues that stop allocation as FieldErrors, or
// nil when there are none.
func blockingErrors(issues []issue) error {
	var errs FieldErrors
	for _, is := range issues {
		if !is.advisory {
			errs = append(errs, is.FieldError)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// ParsePSN parses PSN ranges and returns their network prefixes in input
// order. Host bits are cleared, as the API accepts any CIDR there. The
// error is a FieldErrors naming each range that is not a CIDR.
func ParsePSN(ranges []string) ([]netip.Prefix, error) {
	var errs FieldErrors
	prefixes := make([]netip.Prefix, 0, len(ranges))
	for i, raw := range ranges {
		p, fe := parseCIDR(fmt.Sprintf("spec.psn.ranges[%d]", i), raw, "51.0.0.0/8", false)
		if fe != nil {
			errs = append(errs, *fe)
			continue
		}
		prefixes = append(prefixes, p)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return prefixes, nil
}

// parseCIDR parses raw and returns its network prefix, which is invalid when
// raw is not a CIDR. With requireMasked, a CIDR with host bits set is also
// reported, and the masked prefix is still returned.
func parseCIDR(field, raw, example string, requireMasked bool) (netip.Prefix, *FieldError) {
	p, err := netip.ParsePrefix(raw)
	if err != nil {
		return netip.Prefix{}, &FieldError{
			Field:   field,
			Value:   raw,
			Message: fmt.Sprintf("%q is not a CIDR such as %s", raw, example),
		}
	}
	masked := p.Masked()
	if requireMasked && masked != p {
		return masked, &FieldError{
			Field:      field,
			Value:      raw,
			Message:    fmt.Sprintf("%s has host bits set; the network address is %s", raw, masked),
			Suggestion: masked.String(),
		}
	}
	return masked, nil
}

// parseSpec parses spec and checks everything that does not depend on the
// hosting sites.
func parseSpec(spec Spec) (*parsedSpec, []issue) {
	ps := &parsedSpec{
		policy:  spec.Policy.withDefaults(),
		zoneSet: map[string]bool{},
		pins:    map[string]map[Family]netip.Prefix{},
	}
	var issues []issue
	issues = append(issues, ps.parseSpaces(spec.Spaces)...)
	issues = append(issues, ps.parsePSN(spec.PSNRanges)...)
	issues = append(issues, ps.parseZones(spec.Zones)...)
	for _, f := range []Family{IPv4, IPv6} {
		issues = append(issues, checkPolicy(ps.policy, f, len(ps.zones))...)
	}
	issues = append(issues, ps.parsePins(spec.SitePins)...)
	return ps, issues
}

func (ps *parsedSpec) parseSpaces(raws []string) []issue {
	var issues []issue
	if len(raws) == 0 {
		issues = append(issues, issue{FieldError: FieldError{
			Field:   "spec.addressSpaces",
			Message: "at least one address space is required, for example 10.64.0.0/10",
		}})
	}
	var b netipx.IPSetBuilder
	for i, raw := range raws {
		field := fmt.Sprintf("spec.addressSpaces[%d]", i)
		p, fe := parseCIDR(field, raw, "10.64.0.0/10", true)
		if fe != nil {
			issues = append(issues, issue{FieldError: *fe})
		}
		if !p.IsValid() {
			continue
		}
		for j, q := range ps.spaces {
			if !q.Overlaps(p) {
				continue
			}
			issues = append(issues, issue{FieldError: FieldError{
				Field: field,
				Value: raw,
				Message: fmt.Sprintf("%s overlaps %s in %s, but address spaces must not overlap, so remove or shrink one of them",
					p, q, ps.spaceFields[j]),
			}})
		}
		ps.spaces = append(ps.spaces, p)
		ps.spaceFields = append(ps.spaceFields, field)
		b.AddPrefix(p)
		if f := familyOf(p); !slices.Contains(ps.families, f) {
			ps.families = append(ps.families, f)
		}
	}
	ps.spaceSet, _ = b.IPSet()
	slices.Sort(ps.families) // "IPv4" < "IPv6"
	return issues
}

func (ps *parsedSpec) parsePSN(raws []string) []issue {
	var issues []issue
	for i, raw := range raws {
		field := fmt.Sprintf("spec.psn.ranges[%d]", i)
		p, fe := parseCIDR(field, raw, "51.0.0.0/8", false)
		if fe != nil {
			issues = append(issues, issue{FieldError: *fe})
			continue
		}
		for j, q := range ps.spaces {
			if !q.Overlaps(p) {
				continue
			}
			issues = append(issues, issue{FieldError: FieldError{
				Field: field,
				Value: raw,
				Message: fmt.Sprintf("%s overlaps address space %s. PSN ranges are reached through PSN gateways "+
					"and cannot also be carved into department blocks, so remove the overlap from %s or from this range",
					p, q, ps.spaceFields[j]),
			}})
		}
	}
	return issues
}

func (ps *parsedSpec) parseZones(zones []string) []issue {
	var issues []issue
	if len(zones) == 0 {
		issues = append(issues, issue{FieldError: FieldError{
			Field:   "spec.zones",
			Message: "at least one zone is required, because workload blocks are carved from zone blocks",
		}})
	}
	firstAt := map[string]int{}
	for i, z := range zones {
		field := fmt.Sprintf("spec.zones[%d]", i)
		if z == "" {
			issues = append(issues, issue{FieldError: FieldError{Field: field, Message: "zone name is empty"}})
			continue
		}
		if j, dup := firstAt[z]; dup {
			issues = append(issues, issue{FieldError: FieldError{
				Field:   field,
				Value:   z,
				Message: fmt.Sprintf("zone %s is already listed as spec.zones[%d], so remove one of them", z, j),
			}})
			continue
		}
		firstAt[z] = i
		ps.zones = append(ps.zones, z)
		ps.zoneSet[z] = true
	}
	slices.Sort(ps.zones)
	return issues
}

// policyFields returns the API field paths of the site, zone and workload
// prefix lengths for f.
func policyFields(f Family) (site, zone, workload string) {
	const base = "spec.allocation."
	if f == IPv4 {
		return base + "sitePrefixLength", base + "zonePrefixLength", base + "workloadPrefixLength"
	}
	return base + "sitePrefixLengthIPv6", base + "zonePrefixLengthIPv6", base + "workloadPrefixLengthIPv6"
}

// shortName returns the last element of a field path.
func shortName(field string) string {
	return field[strings.LastIndexByte(field, '.')+1:]
}

// zoneBitsNeeded returns how many prefix bits a site block must give up so
// that n zones fit in it: 0 for one zone, 2 for three or four zones.
func zoneBitsNeeded(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

// checkPolicy checks the prefix lengths for f: each within the family's
// address length, site shorter than zone shorter than workload, and room
// for every zone in a site block.
func checkPolicy(p Policy, f Family, zones int) []issue {
	site, zone, workload := p.lengths(f)
	siteField, zoneField, workloadField := policyFields(f)
	maxBits := f.maxBits()

	var issues []issue
	for _, v := range []struct {
		field string
		bits  int
	}{{siteField, site}, {zoneField, zone}, {workloadField, workload}} {
		if v.bits < 1 || v.bits > maxBits {
			issues = append(issues, issue{FieldError: FieldError{
				Field:   v.field,
				Value:   strconv.Itoa(v.bits),
				Message: fmt.Sprintf("%s %d is outside 1 to %d, the prefix lengths of %s", shortName(v.field), v.bits, maxBits, f),
			}})
		}
	}
	if len(issues) > 0 {
		return issues
	}

	need := zoneBitsNeeded(zones)
	switch {
	case zone <= site:
		fit := site + max(need, 1)
		fe := FieldError{
			Field: zoneField,
			Value: strconv.Itoa(zone),
			Message: fmt.Sprintf("%s %d must be longer than %s %d, because zone blocks are carved from site blocks",
				shortName(zoneField), zone, shortName(siteField), site),
		}
		if fit <= maxBits {
			fe.Suggestion = strconv.Itoa(fit)
		}
		issues = append(issues, issue{FieldError: fe})
	case zone-site < need:
		fit := site + need
		fe := FieldError{
			Field: zoneField,
			Value: strconv.Itoa(zone),
			Message: fmt.Sprintf("a /%d site block holds %d zone blocks of /%d, but spec.zones lists %d zones, "+
				"so the largest zone blocks that fit are /%d", site, 1<<(zone-site), zone, zones, fit),
		}
		if fit <= maxBits {
			fe.Suggestion = strconv.Itoa(fit)
		}
		issues = append(issues, issue{FieldError: fe})
	}
	if workload <= zone {
		fe := FieldError{
			Field: workloadField,
			Value: strconv.Itoa(workload),
			Message: fmt.Sprintf("%s %d must be longer than %s %d, because workload blocks are carved from zone blocks",
				shortName(workloadField), workload, shortName(zoneField), zone),
		}
		if zone+1 <= maxBits {
			fe.Suggestion = strconv.Itoa(zone + 1)
		}
		issues = append(issues, issue{FieldError: fe})
	}
	return issues
}

func (ps *parsedSpec) parsePins(pins []SitePin) []issue {
	var issues []issue
	add := func(field, value, message string) {
		issues = append(issues, issue{FieldError: FieldError{Field: field, Value: value, Message: message}})
	}
	firstAt := map[string]int{}
	var b netipx.IPSetBuilder
	for i, pin := range pins {
		base := fmt.Sprintf("spec.siteBlocks[%d]", i)
		if pin.Site == "" {
			add(base+".site", "", "site is required")
			continue
		}
		if j, dup := firstAt[pin.Site]; dup {
			add(base+".site", pin.Site, fmt.Sprintf("site %s is already pinned in spec.siteBlocks[%d], so merge the two entries", pin.Site, j))
			continue
		}
		firstAt[pin.Site] = i
		if len(pin.CIDRs) == 0 {
			add(base+".cidrs", "", "at least one CIDR is required, for example 10.96.0.0/16")
		}

		byFamily := map[Family]netip.Prefix{}
		for j, raw := range pin.CIDRs {
			field := fmt.Sprintf("%s.cidrs[%d]", base, j)
			p, fe := parseCIDR(field, raw, "10.96.0.0/16", true)
			if fe != nil {
				issues = append(issues, issue{FieldError: *fe})
			}
			if !p.IsValid() {
				continue
			}
			f := familyOf(p)
			if first, ok := byFamily[f]; ok {
				add(field, raw, fmt.Sprintf("site %s already has the %s block %s, and a site holds at most one block per family",
					pin.Site, f, first))
				continue
			}
			if !ps.spaceSet.ContainsPrefix(p) {
				add(field, raw, fmt.Sprintf("%s is not inside any address space in spec.addressSpaces, "+
					"so add a space that contains it or pin a range inside one", p))
			}
			for _, other := range ps.pinList {
				if other.prefix.Overlaps(p) {
					add(field, raw, fmt.Sprintf("%s overlaps %s of site %s in %s, but site blocks must not overlap",
						p, other.prefix, other.site, other.field))
				}
			}
			if msg := pinZoneRoom(p, ps.policy, len(ps.zones)); msg != "" {
				add(field, raw, msg)
			}
			byFamily[f] = p
			ps.pinList = append(ps.pinList, pinnedBlock{field: field, raw: raw, site: pin.Site, prefix: p})
			b.AddPrefix(p)
		}
		ps.pins[pin.Site] = byFamily
	}
	ps.pinSet, _ = b.IPSet()
	return issues
}

// pinZoneRoom returns why pinned block p cannot hold a block for each of
// the zones, or "" when it can.
func pinZoneRoom(p netip.Prefix, policy Policy, zones int) string {
	_, zone, _ := policy.lengths(familyOf(p))
	need := max(zoneBitsNeeded(zones), 1)
	room := zone - p.Bits()
	larger := max(zone-need, 0)
	switch {
	case room < 1:
		return fmt.Sprintf("%s is no larger than a /%d zone block, so pin a block of /%d or larger",
			p, zone, larger)
	case room < need:
		return fmt.Sprintf("%s holds %d zone blocks of /%d, but spec.zones lists %d zones, so pin a block of /%d or larger",
			p, 1<<room, zone, zones, larger)
	}
	return ""
}

// checkSites checks the spec against the hosting sites: every pin names a
// site, and public cloud sites get IPv4 blocks that a cloud VPC accepts.
func checkSites(ps *parsedSpec, spec Spec, sites []Site) []issue {
	publicCloud := map[string]bool{}
	for _, s := range sites {
		publicCloud[s.Name] = publicCloud[s.Name] || s.Tier == PublicCloud
	}

	var issues []issue
	for i, pin := range spec.SitePins {
		if _, known := publicCloud[pin.Site]; pin.Site != "" && !known {
			issues = append(issues, issue{advisory: true, FieldError: FieldError{
				Field: fmt.Sprintf("spec.siteBlocks[%d].site", i),
				Value: pin.Site,
				Message: fmt.Sprintf("there is no hosting site named %s, so the pin only reserves its range. "+
					"Correct the name or remove the entry", pin.Site),
			}})
		}
	}
	for _, pin := range ps.pinList {
		if publicCloud[pin.site] && familyOf(pin.prefix) == IPv4 {
			if fe := cloudPinError(pin); fe != nil {
				issues = append(issues, issue{FieldError: *fe})
			}
		}
	}

	if !slices.Contains(ps.families, IPv4) {
		return issues
	}
	var unpinned []string
	for name, cloud := range publicCloud {
		if _, pinned := ps.pins[name][IPv4]; cloud && !pinned {
			unpinned = append(unpinned, name)
		}
	}
	site := ps.policy.SiteBits
	if len(unpinned) == 0 || (site >= cloudMinSiteBits && site <= cloudMaxSiteBits) {
		return issues
	}
	slices.Sort(unpinned)
	fit := min(max(site, cloudMinSiteBits), cloudMaxSiteBits)
	siteField, _, _ := policyFields(IPv4)
	issues = append(issues, issue{FieldError: FieldError{
		Field: siteField,
		Value: strconv.Itoa(site),
		Message: fmt.Sprintf("public cloud sites %s would get /%d IPv4 blocks, but a cloud VPC's IPv4 block "+
			"must be between /%d and /%d, so set sitePrefixLength to %d",
			strings.Join(unpinned, ", "), site, cloudMinSiteBits, cloudMaxSiteBits, fit),
		Suggestion: strconv.Itoa(fit),
	}})
	return issues
}

// cloudPinError reports an IPv4 pin of a public cloud site that a cloud
// VPC would reject, or returns nil.
func cloudPinError(pin pinnedBlock) *FieldError {
	p := pin.prefix
	switch {
	case p.Bits() < cloudMinSiteBits:
		first := netip.PrefixFrom(p.Addr(), cloudMinSiteBits)
		return &FieldError{
			Field: pin.field,
			Value: pin.raw,
			Message: fmt.Sprintf("site %s is a public cloud site, and a cloud VPC's IPv4 block must be between /%d and /%d, "+
				"so split %s into its %d /%d blocks and pin one of them, such as %s",
				pin.site, cloudMinSiteBits, cloudMaxSiteBits, p, 1<<(cloudMinSiteBits-p.Bits()), cloudMinSiteBits, first),
			Suggestion: first.String(),
		}
	case p.Bits() > cloudMaxSiteBits:
		larger := netip.PrefixFrom(p.Addr(), cloudMaxSiteBits).Masked()
		return &FieldError{
			Field: pin.field,
			Value: pin.raw,
			Message: fmt.Sprintf("site %s is a public cloud site, and a cloud VPC's IPv4 block must be between /%d and /%d, "+
				"so pin a /%d or larger block, such as %s, in place of %s",
				pin.site, cloudMinSiteBits, cloudMaxSiteBits, cloudMaxSiteBits, larger, p),
			Suggestion: larger.String(),
		}
	}
	return nil
}
