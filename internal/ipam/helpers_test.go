package ipam

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// prefixComparer lets cmp compare netip values, whose fields are unexported.
var prefixComparer = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

// pfx parses a CIDR that the test writes, failing the test if it is wrong.
func pfx(t testing.TB, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatalf("test CIDR %q: %v", s, err)
	}
	return p
}

func pfxs(t testing.TB, cidrs ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, len(cidrs))
	for i, s := range cidrs {
		out[i] = pfx(t, s)
	}
	return out
}

// dualStackSpec has one IPv4 and one IPv6 space, three zones and the
// default policy.
func dualStackSpec() Spec {
	return Spec{
		Spaces:    []string{"10.64.0.0/10", "fd00:64::/32"},
		PSNRanges: []string{"51.0.0.0/8"},
		Zones:     []string{"frontend", "backend", "data"},
	}
}

func onPrem(names ...string) []Site {
	sites := make([]Site, len(names))
	for i, n := range names {
		sites[i] = Site{Name: n, Tier: OnPremises}
	}
	return sites
}

func holder(key, site, zone string) Holder {
	return Holder{Key: key, UID: "uid-" + key, Site: site, Zone: zone}
}

// workloadFor returns the block of key in plan, failing the test when
// there is none.
func workloadFor(t testing.TB, plan Plan, key string) WorkloadBlock {
	t.Helper()
	for _, w := range plan.Workloads {
		if w.Key == key {
			return w
		}
	}
	t.Fatalf("no workload block for %s in plan", key)
	return WorkloadBlock{}
}

func siteFor(t testing.TB, plan Plan, name string) SiteBlock {
	t.Helper()
	for _, s := range plan.Sites {
		if s.Site == name {
			return s
		}
	}
	t.Fatalf("no site block for %s in plan", name)
	return SiteBlock{}
}

func zoneFor(t testing.TB, plan Plan, site, zone string) ZoneBlock {
	t.Helper()
	for _, z := range siteFor(t, plan, site).Zones {
		if z.Zone == zone {
			return z
		}
	}
	t.Fatalf("no zone block for %s at %s in plan", zone, site)
	return ZoneBlock{}
}

func hasWorkload(plan Plan, key string) bool {
	for _, w := range plan.Workloads {
		if w.Key == key {
			return true
		}
	}
	return false
}

func mustAllocate(t testing.TB, spec Spec, sites []Site, holders []Holder, current Plan) (Plan, []Problem) {
	t.Helper()
	plan, problems, err := Allocate(spec, sites, holders, current)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	return plan, problems
}

// planViolations returns every broken invariant of plan: a block of the
// wrong family count or length, a block outside its parent, or two blocks
// of one level that overlap. Site blocks may be pins of any length.
func planViolations(spec Spec, plan Plan) []string {
	var out []string
	policy := spec.Policy.withDefaults()
	var spaces []netip.Prefix
	for _, s := range spec.Spaces {
		if p, err := netip.ParsePrefix(s); err == nil {
			spaces = append(spaces, p)
		}
	}
	pinned := map[string]bool{}
	for _, pin := range spec.SitePins {
		for _, c := range pin.CIDRs {
			pinned[pin.Site+" "+c] = true
		}
	}

	type owned struct {
		owner  string
		prefix netip.Prefix
	}
	var siteBlocks, zoneBlocks, workloadBlocks []owned
	zoneOf := map[string]netip.Prefix{} // "site/zone/family" -> block
	for _, s := range plan.Sites {
		if len(s.Prefixes) == 0 || len(s.Prefixes) > 2 {
			out = append(out, fmt.Sprintf("site %s has %d prefixes", s.Site, len(s.Prefixes)))
		}
		families := map[Family]netip.Prefix{}
		for _, p := range s.Prefixes {
			f := familyOf(p)
			if _, dup := families[f]; dup {
				out = append(out, fmt.Sprintf("site %s has two %s blocks", s.Site, f))
			}
			families[f] = p
			siteBits, _, _ := policy.lengths(f)
			if p.Bits() != siteBits && !pinned[s.Site+" "+p.String()] {
				out = append(out, fmt.Sprintf("site %s block %s is not /%d and not pinned", s.Site, p, siteBits))
			}
			inside := false
			for _, sp := range spaces {
				inside = inside || covers(sp, p)
			}
			if !inside {
				out = append(out, fmt.Sprintf("site %s block %s is outside every space", s.Site, p))
			}
			siteBlocks = append(siteBlocks, owned{"site " + s.Site, p})
		}
		for _, z := range s.Zones {
			for _, p := range z.Prefixes {
				f := familyOf(p)
				_, zoneBits, _ := policy.lengths(f)
				if p.Bits() != zoneBits {
					out = append(out, fmt.Sprintf("zone %s/%s block %s is not /%d", s.Site, z.Zone, p, zoneBits))
				}
				if parent, ok := families[f]; !ok || !covers(parent, p) {
					out = append(out, fmt.Sprintf("zone %s/%s block %s is outside its site block", s.Site, z.Zone, p))
				}
				zoneOf[s.Site+"/"+z.Zone+"/"+string(f)] = p
				zoneBlocks = append(zoneBlocks, owned{"zone " + s.Site + "/" + z.Zone, p})
			}
		}
	}
	for _, w := range plan.Workloads {
		if len(w.Prefixes) == 0 {
			out = append(out, fmt.Sprintf("workload %s has no prefixes", w.Key))
		}
		for _, p := range w.Prefixes {
			f := familyOf(p)
			_, _, workloadBits := policy.lengths(f)
			if p.Bits() != workloadBits {
				out = append(out, fmt.Sprintf("workload %s block %s is not /%d", w.Key, p, workloadBits))
			}
			if parent, ok := zoneOf[w.Site+"/"+w.Zone+"/"+string(f)]; !ok || !covers(parent, p) {
				out = append(out, fmt.Sprintf("workload %s block %s is outside zone %s at %s", w.Key, p, w.Zone, w.Site))
			}
			workloadBlocks = append(workloadBlocks, owned{"workload " + w.Key, p})
		}
	}
	for _, level := range [][]owned{siteBlocks, zoneBlocks, workloadBlocks} {
		for i := range level {
			for j := i + 1; j < len(level); j++ {
				if level[i].prefix.Overlaps(level[j].prefix) {
					out = append(out, fmt.Sprintf("%s %s overlaps %s %s",
						level[i].owner, level[i].prefix, level[j].owner, level[j].prefix))
				}
			}
		}
	}
	return out
}

func checkPlan(t testing.TB, spec Spec, plan Plan) {
	t.Helper()
	for _, v := range planViolations(spec, plan) {
		t.Error(v)
	}
}
