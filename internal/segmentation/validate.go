package segmentation

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"
	networkingv1 "k8s.io/api/networking/v1"
)

// compiler is the validated, indexed intent and what has been compiled from it.
type compiler struct {
	zones        map[string]Zone
	zoneNames    []string // sorted
	enclaveZones []string // sorted
	isEnclave    map[string]bool
	matrix       map[zonePair]*allowance

	sites     map[string]*Site
	siteNames []string // sorted

	workloads []*workload // sorted by key
	byKey     map[string]*workload
	members   map[string][]*workload // by zone, sorted by key

	department []netip.Prefix
	psnRanges  []netip.Prefix
	metadata   []netip.Prefix
	internet   []netip.Prefix // sorted, IPv4 first
	psn        []netip.Prefix // PSN ranges minus department spaces
	dns        DNS

	// zoneTarget is each zone's blocks at every site plus its members' addresses.
	zoneTarget map[string][]netip.Prefix
	// zoneTargetAt is zoneTarget restricted to one site, indexed [site][zone].
	zoneTargetAt map[string]map[string][]netip.Prefix

	internetIPBlocks []networkingv1.NetworkPolicyPeer // 0.0.0.0/0 and ::/0 with exceptions
	psnIPBlocks      []networkingv1.NetworkPolicyPeer // PSN ranges except department spaces

	flows     []*compiledFlow    // sorted by source key, then flow name
	exposures map[string][]grant // by workload key
	rejected  []Rejection
}

// workload is a validated Workload with its indexes.
type workload struct {
	Workload
	key        string // "namespace/name"
	index      int    // position in compiler.workloads
	site       *Site  // nil when unplaced
	enclave    bool   // in an enclave zone or on an enclave site
	knownZone  bool
	endpoint   endpoint                // the workload's addresses for firewall rules
	addressKey string                  // prefixesKey of Addresses
	ports      map[string]NamedPort    // by name
	names      map[portNumber][]string // sorted names of each protocol and number
}

type portNumber struct {
	protocol string
	number   int32
}

type zonePair struct{ from, to string }

// allowance is the set of ports the zone matrix allows from one zone to another.
type allowance struct {
	all   bool
	ports []Port // normalised, sorted, without duplicates
}

// newCompiler validates the intent and indexes it. The error lists every
// problem found, each naming the value and the fix.
func newCompiler(in Intent) (*compiler, error) {
	c := &compiler{
		zones:        map[string]Zone{},
		isEnclave:    map[string]bool{},
		matrix:       map[zonePair]*allowance{},
		sites:        map[string]*Site{},
		byKey:        map[string]*workload{},
		members:      map[string][]*workload{},
		zoneTarget:   map[string][]netip.Prefix{},
		zoneTargetAt: map[string]map[string][]netip.Prefix{},
		exposures:    map[string][]grant{},
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	c.indexZones(in, fail)
	c.indexMatrix(in, fail)
	c.indexAddresses(in, fail)
	c.indexDNS(in, fail)
	c.indexSites(in, fail)
	c.indexWorkloads(in, fail)
	if len(errs) == 0 {
		c.checkAddressPlan(fail)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid network intent: %w", errors.Join(errs...))
	}
	c.indexZoneTargets()
	c.indexIPBlocks()
	return c, nil
}

type failFunc func(format string, args ...any)

func (c *compiler) indexZones(in Intent, fail failFunc) {
	for i, z := range in.Zones {
		switch {
		case z.Name == "":
			fail("zones[%d].name is missing; give the zone a name", i)
			continue
		case z.Name == MatrixInternet || z.Name == MatrixPSN:
			fail("zones[%d].name %q is reserved for the external network; rename the zone", i, z.Name)
			continue
		}
		if _, dup := c.zones[z.Name]; dup {
			fail("zones[%d].name %q is declared twice; remove one", i, z.Name)
			continue
		}
		c.zones[z.Name] = z
		c.zoneNames = append(c.zoneNames, z.Name)
	}
	slices.Sort(c.zoneNames)

	enclave := in.EnclaveZones
	if len(enclave) == 0 {
		if _, ok := c.zones["enclave"]; ok {
			enclave = []string{"enclave"}
		}
	}
	for _, z := range enclave {
		if _, ok := c.zones[z]; !ok {
			fail("enclaveZones: zone %q is not declared; declare it in zones or remove it", z)
			continue
		}
		if !c.isEnclave[z] {
			c.isEnclave[z] = true
			c.enclaveZones = append(c.enclaveZones, z)
		}
	}
	slices.Sort(c.enclaveZones)
}

func (c *compiler) isMatrixName(name string) bool {
	_, ok := c.zones[name]
	return ok || name == MatrixInternet || name == MatrixPSN
}

func isExternalName(name string) bool { return name == MatrixInternet || name == MatrixPSN }

func (c *compiler) indexMatrix(in Intent, fail failFunc) {
	for i, r := range in.Matrix {
		bad := false
		for _, end := range []struct{ field, name string }{{"from", r.From}, {"to", r.To}} {
			if !c.isMatrixName(end.name) {
				fail("zoneMatrix[%d].%s %q is not a declared zone, %q or %q; declare the zone or correct the name", i, end.field, end.name, MatrixInternet, MatrixPSN)
				bad = true
			}
		}
		if !bad && isExternalName(r.From) && isExternalName(r.To) {
			fail("zoneMatrix[%d] goes from %q to %q, which are both external networks; one end must be a zone", i, r.From, r.To)
			bad = true
		}
		ports := make([]Port, 0, len(r.Ports))
		for j, p := range r.Ports {
			np, err := normalisePort(p)
			if err != nil {
				fail("zoneMatrix[%d].ports[%d]: %v", i, j, err)
				bad = true
				continue
			}
			if np.Name != "" && isExternalName(r.To) {
				fail("zoneMatrix[%d].ports[%d] names port %q, but %q has no named ports; give the port number", i, j, np.Name, r.To)
				bad = true
				continue
			}
			ports = append(ports, np)
		}
		if bad {
			continue
		}
		key := zonePair{r.From, r.To}
		a := c.matrix[key]
		if a == nil {
			a = &allowance{}
			c.matrix[key] = a
		}
		if len(ports) == 0 {
			a.all = true
		}
		a.ports = append(a.ports, ports...)
	}
	for _, a := range c.matrix {
		if a.all {
			a.ports = nil
			continue
		}
		a.ports = sortPorts(a.ports)
	}
}

func (c *compiler) indexAddresses(in Intent, fail failFunc) {
	check := func(field string, list []netip.Prefix) []netip.Prefix {
		out := make([]netip.Prefix, 0, len(list))
		for i, p := range list {
			if !p.IsValid() {
				fail("%s[%d] is not a valid CIDR; use a prefix such as 10.64.0.0/10", field, i)
				continue
			}
			out = append(out, p.Masked())
		}
		return out
	}
	c.department = check("departmentSpaces", in.DepartmentSpaces)
	c.psnRanges = check("psnRanges", in.PSNRanges)
	metadata := in.MetadataAddresses
	if len(metadata) == 0 {
		metadata = defaultMetadataAddresses
	}
	c.metadata = check("metadataAddresses", metadata)

	internet, err := Internet(c.department, c.psnRanges, c.metadata)
	if err != nil {
		fail("computing the internet ranges: %v", err)
		return
	}
	c.internet = internet.Prefixes()
	if len(c.psnRanges) > 0 {
		c.psn = minus(c.psnRanges, c.department)
	}
}

func (c *compiler) indexDNS(in Intent, fail failFunc) {
	dns := in.ClusterDNS
	if dns.Namespace == "" {
		dns.Namespace = "kube-system"
	}
	if len(dns.PodLabels) == 0 {
		dns.PodLabels = map[string]string{"k8s-app": "kube-dns"}
	}
	if len(dns.Ports) == 0 {
		dns.Ports = []Port{{Protocol: "UDP", Port: 53}, {Protocol: "TCP", Port: 53}}
	}
	ports := make([]Port, 0, len(dns.Ports))
	for i, p := range dns.Ports {
		np, err := normalisePort(p)
		if err != nil {
			fail("clusterDNS.ports[%d]: %v", i, err)
			continue
		}
		if np.Name != "" {
			fail("clusterDNS.ports[%d] names port %q; give the port number", i, np.Name)
			continue
		}
		ports = append(ports, np)
	}
	dns.Ports = sortPorts(ports)
	c.dns = dns
}

func (c *compiler) indexSites(in Intent, fail failFunc) {
	for i := range in.Sites {
		s := in.Sites[i]
		if s.Name == "" {
			fail("sites[%d].name is missing; give the site a name", i)
			continue
		}
		if _, dup := c.sites[s.Name]; dup {
			fail("sites[%d].name %q is declared twice; remove one", i, s.Name)
			continue
		}
		switch s.Tier {
		case TierPublicCloud, TierPrivateCloud, TierOnPremises:
		default:
			fail("site %q has tier %q; use PublicCloud, PrivateCloud or OnPremises", s.Name, s.Tier)
		}
		blocks := make(map[string][]netip.Prefix, len(s.ZoneBlocks))
		zones := slices.Sorted(maps.Keys(s.ZoneBlocks))
		for _, zone := range zones {
			list := s.ZoneBlocks[zone]
			if _, ok := c.zones[zone]; !ok {
				fail("site %q has blocks for zone %q, which is not declared; declare the zone or remove the blocks", s.Name, zone)
				continue
			}
			valid := true
			for j, p := range list {
				if !p.IsValid() {
					fail("site %q zone %q block %d is not a valid CIDR; use a prefix such as 10.64.0.0/20", s.Name, zone, j)
					valid = false
				}
			}
			if valid && len(list) > 0 {
				blocks[zone] = canonical(list)
			}
		}
		s.ZoneBlocks = blocks
		c.sites[s.Name] = &s
		c.siteNames = append(c.siteNames, s.Name)
	}
	slices.Sort(c.siteNames)
}

func (c *compiler) indexWorkloads(in Intent, fail failFunc) {
	for i := range in.Workloads {
		w := &workload{Workload: in.Workloads[i]}
		if w.Namespace == "" || w.Name == "" {
			fail("workloads[%d] has namespace %q and name %q; both are required", i, w.Namespace, w.Name)
			continue
		}
		w.key = w.Namespace + "/" + w.Name
		if _, dup := c.byKey[w.key]; dup {
			fail("workload %s is declared twice; remove one", w.key)
			continue
		}
		c.validateWorkload(w, fail)
		c.byKey[w.key] = w
		c.workloads = append(c.workloads, w)
	}
	slices.SortFunc(c.workloads, func(a, b *workload) int { return strings.Compare(a.key, b.key) })
	for i, w := range c.workloads {
		w.index = i
		if w.knownZone {
			c.members[w.Zone] = append(c.members[w.Zone], w)
		}
	}
}

func (c *compiler) validateWorkload(w *workload, fail failFunc) {
	// Copy the slices that are normalised below, so the caller's intent is left unchanged.
	w.Flows = slices.Clone(w.Flows)
	for j := range w.Flows {
		w.Flows[j].Ports = slices.Clone(w.Flows[j].Ports)
	}

	_, w.knownZone = c.zones[w.Zone]
	if w.Site != "" {
		w.site = c.sites[w.Site]
		if w.site == nil {
			fail("workload %s is placed on site %q, which is not in the intent; add the site or clear the placement", w.key, w.Site)
		}
	}
	w.enclave = c.isEnclave[w.Zone] || (w.site != nil && w.site.Enclave)

	switch w.Exposure {
	case "":
		w.Exposure = ExposureInternal
	case ExposureInternet, ExposurePSN, ExposureInternal:
	default:
		fail("workload %s has exposure %q; use Internet, PSN or Internal", w.key, w.Exposure)
	}

	addresses := make([]netip.Prefix, 0, len(w.Addresses))
	for j, p := range w.Addresses {
		if !p.IsValid() {
			fail("workload %s addresses[%d] is not a valid CIDR; use a prefix such as 10.64.1.0/27", w.key, j)
			continue
		}
		addresses = append(addresses, p)
	}
	if len(addresses) > 0 {
		addresses = canonical(addresses)
	}
	w.Addresses = addresses
	w.endpoint = prefixEndpoint(addresses)
	w.addressKey = prefixesKey(addresses)

	w.ports = make(map[string]NamedPort, len(w.Ports))
	w.names = make(map[portNumber][]string, len(w.Ports))
	for j, p := range w.Ports {
		if p.Name == "" {
			fail("workload %s ports[%d] has no name; name the port, for example \"https\"", w.key, j)
			continue
		}
		np, err := normalisePort(Port{Protocol: p.Protocol, Port: p.Port})
		if err != nil {
			fail("workload %s port %q: %v", w.key, p.Name, err)
			continue
		}
		if _, dup := w.ports[p.Name]; dup {
			fail("workload %s declares port %q twice; remove one", w.key, p.Name)
			continue
		}
		p.Protocol = np.Protocol
		w.ports[p.Name] = p
		key := portNumber{p.Protocol, p.Port}
		w.names[key] = append(w.names[key], p.Name)
	}
	for _, names := range w.names {
		slices.Sort(names)
	}

	seen := map[string]bool{}
	for j := range w.Flows {
		f := &w.Flows[j]
		if f.Name == "" {
			fail("workload %s flows[%d] has no name; name the flow", w.key, j)
			continue
		}
		if seen[f.Name] {
			fail("workload %s declares flow %q twice; rename one", w.key, f.Name)
			continue
		}
		seen[f.Name] = true
		set := 0
		for _, v := range []string{f.To.Workload, f.To.Zone, string(f.To.External)} {
			if v != "" {
				set++
			}
		}
		if set != 1 {
			fail("workload %s flow %q must set exactly one of to.workload, to.zone and to.external", w.key, f.Name)
		}
		switch f.To.External {
		case "", ExternalPSN, ExternalInternet:
		default:
			fail("workload %s flow %q has to.external %q; use PSN or Internet", w.key, f.Name, f.To.External)
		}
		if len(f.Ports) == 0 {
			fail("workload %s flow %q has no ports; list at least one", w.key, f.Name)
		}
		for k, p := range f.Ports {
			np, err := normalisePort(p)
			if err != nil {
				fail("workload %s flow %q ports[%d]: %v", w.key, f.Name, k, err)
				continue
			}
			f.Ports[k] = np
		}
	}
}

// checkAddressPlan rejects address plans that would make address-based rules
// match the wrong workload: overlapping workload addresses, and a workload
// address inside another zone's block.
func (c *compiler) checkAddressPlan(fail failFunc) {
	type owned struct {
		r   netipx.IPRange
		key string
	}
	var all []owned
	for _, w := range c.workloads {
		for _, p := range w.Addresses {
			all = append(all, owned{netipx.RangeOfPrefix(p), w.key})
		}
	}
	slices.SortFunc(all, func(a, b owned) int {
		if n := a.r.From().Compare(b.r.From()); n != 0 {
			return n
		}
		return strings.Compare(a.key, b.key)
	})
	for i := 1; i < len(all); i++ {
		if all[i].r.From().Compare(all[i-1].r.To()) <= 0 {
			fail("workloads %s and %s have overlapping addresses %s and %s; give each workload its own block", all[i-1].key, all[i].key, all[i-1].r, all[i].r)
		}
	}

	// Prefixes either nest or are disjoint, so a block overlaps a workload's
	// prefix only when it contains the prefix or lies inside it.
	zonesOf := map[netip.Prefix][]string{}
	lengths := map[int]bool{}
	var blocks []netip.Prefix
	for _, site := range c.siteNames {
		for zone, list := range c.sites[site].ZoneBlocks {
			for _, b := range list {
				b = b.Masked()
				if len(zonesOf[b]) == 0 {
					blocks = append(blocks, b)
				}
				zonesOf[b] = append(zonesOf[b], zone)
				lengths[b.Bits()] = true
			}
		}
	}
	slices.SortFunc(blocks, netipx.ComparePrefix)
	sortedLengths := slices.Sorted(maps.Keys(lengths))

	for _, w := range c.workloads {
		for _, p := range w.Addresses {
			foreign := map[string]bool{}
			for _, bits := range sortedLengths {
				if bits > p.Bits() {
					continue
				}
				container := netip.PrefixFrom(p.Addr(), bits).Masked()
				for _, zone := range zonesOf[container] {
					foreign[zone] = foreign[zone] || zone != w.Zone
				}
			}
			i, _ := slices.BinarySearchFunc(blocks, p, netipx.ComparePrefix)
			for ; i < len(blocks) && p.Contains(blocks[i].Addr()); i++ {
				if blocks[i].Bits() > p.Bits() {
					for _, zone := range zonesOf[blocks[i]] {
						foreign[zone] = foreign[zone] || zone != w.Zone
					}
				}
			}
			for _, zone := range slices.Sorted(maps.Keys(foreign)) {
				if foreign[zone] {
					fail("workload %s address %s lies in a block of zone %q, but the workload is in zone %q; give it an address from its own zone's block", w.key, p, zone, w.Zone)
				}
			}
		}
	}
}

// indexZoneTargets computes the addresses of each zone: its blocks at every
// site plus its members' addresses, so that rules for a flow to a zone match
// every member even where a site declares no block for the zone.
func (c *compiler) indexZoneTargets() {
	for _, site := range c.siteNames {
		c.zoneTargetAt[site] = map[string][]netip.Prefix{}
	}
	for _, zone := range c.zoneNames {
		var all [][]netip.Prefix
		perSite := map[string][][]netip.Prefix{}
		for _, site := range c.siteNames {
			if b := c.sites[site].ZoneBlocks[zone]; len(b) > 0 {
				all = append(all, b)
				perSite[site] = append(perSite[site], b)
			}
		}
		for _, w := range c.members[zone] {
			if len(w.Addresses) == 0 {
				continue
			}
			all = append(all, w.Addresses)
			if w.site != nil {
				perSite[w.site.Name] = append(perSite[w.site.Name], w.Addresses)
			}
		}
		if len(all) > 0 {
			c.zoneTarget[zone] = canonical(all...)
		}
		for site, lists := range perSite {
			c.zoneTargetAt[site][zone] = canonical(lists...)
		}
	}
}

// normalisePort checks a port and fills in its protocol.
func normalisePort(p Port) (Port, error) {
	p.Protocol = strings.ToUpper(p.Protocol)
	switch p.Protocol {
	case "", "TCP", "UDP", "SCTP":
	default:
		return p, fmt.Errorf("protocol %q is not supported; use TCP, UDP or SCTP", p.Protocol)
	}
	switch {
	case p.Name != "" && p.Port != 0:
		return p, fmt.Errorf("port %d and name %q are both set; set exactly one", p.Port, p.Name)
	case p.Name == "" && p.Port == 0:
		return p, errors.New("neither port nor name is set; set exactly one")
	case p.Name == "" && (p.Port < 1 || p.Port > 65535):
		return p, fmt.Errorf("port %d is out of range; use 1 to 65535", p.Port)
	}
	if p.Protocol == "" && p.Name == "" {
		p.Protocol = "TCP"
	}
	return p, nil
}

func comparePorts(a, b Port) int {
	if n := strings.Compare(a.Protocol, b.Protocol); n != 0 {
		return n
	}
	if a.Port != b.Port {
		if a.Port < b.Port {
			return -1
		}
		return 1
	}
	return strings.Compare(a.Name, b.Name)
}

// sortPorts sorts ports and removes duplicates.
func sortPorts(ports []Port) []Port {
	slices.SortFunc(ports, comparePorts)
	return slices.Compact(ports)
}
