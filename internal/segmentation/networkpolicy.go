package segmentation

import (
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// peerKind orders the rules of a policy: DNS first, then workloads and
// zones, then external networks, then addresses at other sites.
type peerKind int8

const (
	peerDNS peerKind = iota
	peerWorkload
	peerZone
	peerInternet
	peerPSN
	peerAddresses
)

// npKey identifies a rule's peer set: name is a workload key, a zone or a
// prefix list, depending on the kind.
type npKey struct {
	kind peerKind
	name string
}

// npRule is a NetworkPolicy rule being built: one peer set and the union of
// the ports allowed to or from it.
type npRule struct {
	key   npKey
	peer  *workload                        // the peer of a peerWorkload rule
	peers []networkingv1.NetworkPolicyPeer // shared; networkPolicy copies them
	all   bool                             // every port and protocol
	ports []Port
}

// npRules merges rules that have the same peers, so no peer set appears
// twice. Most workloads have a few rules, which a linear search finds
// fastest, so the indexes are built only for long lists.
type npRules struct {
	rules      []*npRule
	byWorkload map[*workload]*npRule
	byKey      map[npKey]*npRule
}

const npLinearLimit = 16

// rule returns the rule for the key, creating it without peers.
func (r *npRules) rule(key npKey) *npRule {
	if r.byKey != nil {
		if rule := r.byKey[key]; rule != nil {
			return rule
		}
	} else {
		for _, rule := range r.rules {
			if rule.peer == nil && rule.key == key {
				return rule
			}
		}
	}
	return r.insert(&npRule{key: key})
}

// workloadRule returns the rule whose peer is the workload, creating it without peers.
func (r *npRules) workloadRule(w *workload) *npRule {
	if r.byWorkload != nil {
		if rule := r.byWorkload[w]; rule != nil {
			return rule
		}
	} else {
		for _, rule := range r.rules {
			if rule.peer == w {
				return rule
			}
		}
	}
	return r.insert(&npRule{key: npKey{kind: peerWorkload}, peer: w})
}

func (r *npRules) insert(rule *npRule) *npRule {
	r.rules = append(r.rules, rule)
	if r.byKey == nil && len(r.rules) > npLinearLimit {
		r.byKey = map[npKey]*npRule{}
		r.byWorkload = map[*workload]*npRule{}
		for _, existing := range r.rules[:len(r.rules)-1] {
			r.index(existing)
		}
	}
	if r.byKey != nil {
		r.index(rule)
	}
	return rule
}

func (r *npRules) index(rule *npRule) {
	if rule.peer != nil {
		r.byWorkload[rule.peer] = rule
	} else {
		r.byKey[rule.key] = rule
	}
}

// addNamed adds ports, keeping the name of each port that has one.
func (r *npRule) addNamed(ports []Port, all bool) {
	r.all = r.all || all
	for _, p := range ports {
		if p.Name != "" {
			r.ports = append(r.ports, Port{Protocol: p.Protocol, Name: p.Name})
		} else {
			r.ports = append(r.ports, Port{Protocol: p.Protocol, Port: p.Port})
		}
	}
}

// addNumbered adds resolved ports by number, because named ports do not
// resolve on addresses.
func (r *npRule) addNumbered(ports []Port) {
	for _, p := range ports {
		r.ports = append(r.ports, Port{Protocol: p.Protocol, Port: p.Port})
	}
}

// sorted returns the rules ordered by kind and name, each with sorted,
// unique ports.
func (r *npRules) sorted() []*npRule {
	for _, rule := range r.rules {
		if rule.peer != nil {
			rule.key.name = rule.peer.key
		}
		if rule.all {
			rule.ports = nil
		} else {
			rule.ports = sortPorts(rule.ports)
		}
	}
	slices.SortFunc(r.rules, func(a, b *npRule) int {
		if a.key.kind != b.key.kind {
			return int(a.key.kind) - int(b.key.kind)
		}
		return strings.Compare(a.key.name, b.key.name)
	})
	return r.rules
}

// npBuilder collects one workload's NetworkPolicy rules.
type npBuilder struct {
	ingress, egress npRules
}

// networkPolicies returns one NetworkPolicy per workload: default deny in
// both directions, DNS to the cluster DNS, egress for the workload's own
// compiled flows, and ingress for every compiled flow and exposure that
// reaches it.
//
// Peers that select the same workload, zone, DNS service or address list
// point to the same LabelSelector and IPBlock values in every policy, which
// keeps a large estate's output small. Callers that change a selector must
// DeepCopy the policy first.
func (c *compiler) networkPolicies() []networkingv1.NetworkPolicy {
	peers := c.newPeerCache()
	builders := make([]npBuilder, len(c.workloads))
	for _, w := range c.workloads {
		b := &builders[w.index]
		rule := b.egress.rule(npKey{kind: peerDNS})
		rule.peers = peers.dns
		rule.addNamed(c.dns.Ports, false)
		for _, g := range c.exposures[w.key] {
			if g.from == MatrixPSN {
				rule = b.ingress.rule(npKey{kind: peerPSN})
				rule.peers = peers.psn
			} else {
				rule = b.ingress.rule(npKey{kind: peerInternet})
				rule.peers = peers.internet
			}
			rule.addNamed(g.ports, g.all)
		}
	}

	otherSites := map[zonePair][]netip.Prefix{} // (zone, site) → the zone's addresses at other sites
	for _, f := range c.flows {
		c.addFlowEgress(&builders[f.src.index], f, peers, otherSites)
		for _, d := range c.deliveries(f) {
			addFlowIngress(&builders[d.dst.index], f.src, d, peers)
		}
	}

	out := make([]networkingv1.NetworkPolicy, 0, len(c.workloads))
	for _, w := range c.workloads {
		out = append(out, c.networkPolicy(w, &builders[w.index]))
	}
	return out
}

// peerCache holds the peer lists that rules share while they are built.
// networkPolicy copies them into each policy.
type peerCache struct {
	dns, internet, psn []networkingv1.NetworkPolicyPeer
	// workload and withAddresses are indexed by workload index: the
	// workload's pod selector peer, and the same followed by its addresses.
	workload, withAddresses [][]networkingv1.NetworkPolicyPeer
	zones                   map[string][]networkingv1.NetworkPolicyPeer
	blocks                  map[string][]networkingv1.NetworkPolicyPeer // by prefixesKey
}

func (c *compiler) newPeerCache() *peerCache {
	return &peerCache{
		dns:           []networkingv1.NetworkPolicyPeer{c.dnsPeer()},
		internet:      c.internetIPBlocks,
		psn:           c.psnIPBlocks,
		workload:      make([][]networkingv1.NetworkPolicyPeer, len(c.workloads)),
		withAddresses: make([][]networkingv1.NetworkPolicyPeer, len(c.workloads)),
		zones:         map[string][]networkingv1.NetworkPolicyPeer{},
		blocks:        map[string][]networkingv1.NetworkPolicyPeer{},
	}
}

// workloadPeers returns the peers that match a workload: its pods, and its
// addresses too when it is at another site than the policy's workload.
func (p *peerCache) workloadPeers(w *workload, addresses bool) []networkingv1.NetworkPolicyPeer {
	if p.workload[w.index] == nil {
		p.workload[w.index] = []networkingv1.NetworkPolicyPeer{workloadPeer(w)}
	}
	if !addresses || len(w.Addresses) == 0 {
		return p.workload[w.index]
	}
	if p.withAddresses[w.index] == nil {
		p.withAddresses[w.index] = append(slices.Clone(p.workload[w.index]), p.addressPeers(w.addressKey, w.Addresses)...)
	}
	return p.withAddresses[w.index]
}

func (p *peerCache) zonePeers(zone string) []networkingv1.NetworkPolicyPeer {
	peers, ok := p.zones[zone]
	if !ok {
		peers = []networkingv1.NetworkPolicyPeer{zonePeer(zone)}
		p.zones[zone] = peers
	}
	return peers
}

// addressPeers returns one ipBlock peer per prefix.
func (p *peerCache) addressPeers(key string, prefixes []netip.Prefix) []networkingv1.NetworkPolicyPeer {
	peers, ok := p.blocks[key]
	if !ok {
		peers = ipBlocks(prefixes)
		p.blocks[key] = peers
	}
	return peers
}

func (c *compiler) addFlowEgress(b *npBuilder, f *compiledFlow, peers *peerCache, otherSites map[zonePair][]netip.Prefix) {
	s := f.src
	switch f.kind {
	case toWorkload:
		d := f.dst
		rule := b.egress.workloadRule(d)
		rule.peers = peers.workloadPeers(d, false)
		rule.addNamed(f.ports, false)
		if !sameSite(s, d) && len(d.Addresses) > 0 {
			// Pod selectors match pods of this cluster only, so a workload at
			// another site is also matched by its addresses.
			addAddressRule(b, peers, d.addressKey, d.Addresses, f.ports)
		}

	case toZone:
		rule := b.egress.rule(npKey{peerZone, f.zone})
		rule.peers = peers.zonePeers(f.zone)
		rule.addNamed(c.zoneNamedPorts(f), false)
		if !hasNamedPort(f.ports) {
			key := zonePair{f.zone, s.Site}
			other, ok := otherSites[key]
			if !ok {
				other = c.zoneAddressesElsewhere(f.zone, s)
				otherSites[key] = other
			}
			if len(other) > 0 {
				addAddressRule(b, peers, prefixesKey(other), other, f.ports)
			}
			return
		}
		for _, d := range c.deliveries(f) {
			if !sameSite(s, d.dst) && len(d.dst.Addresses) > 0 {
				addAddressRule(b, peers, d.dst.addressKey, d.dst.Addresses, d.ports)
			}
		}

	case toPSN:
		rule := b.egress.rule(npKey{kind: peerPSN})
		rule.peers = peers.psn
		rule.addNamed(f.ports, false)
	case toInternet:
		rule := b.egress.rule(npKey{kind: peerInternet})
		rule.peers = peers.internet
		rule.addNamed(f.ports, false)
	}
}

func addAddressRule(b *npBuilder, peers *peerCache, key string, addresses []netip.Prefix, ports []Port) {
	rule := b.egress.rule(npKey{peerAddresses, key})
	rule.peers = peers.addressPeers(key, addresses)
	rule.addNumbered(ports)
}

func addFlowIngress(b *npBuilder, s *workload, d delivery, peers *peerCache) {
	rule := b.ingress.workloadRule(s)
	rule.peers = peers.workloadPeers(s, !sameSite(s, d.dst))
	// Named ports resolve on the pod the policy selects, which here is the
	// destination, so they stay named.
	rule.addNamed(d.ports, false)
}

// zoneAddressesElsewhere returns the zone's addresses outside the source's site.
func (c *compiler) zoneAddressesElsewhere(zone string, s *workload) []netip.Prefix {
	all := c.zoneTarget[zone]
	if s.site == nil || len(all) == 0 {
		return all
	}
	here := c.zoneTargetAt[s.site.Name][zone]
	if len(here) == 0 {
		return all
	}
	return minus(all, here)
}

// zoneNamedPorts returns the ports of a flow to a zone for a pod selector
// peer. A named port without a protocol becomes one entry per protocol that
// the zone's workloads serve it over, because a NetworkPolicy port without a
// protocol means TCP.
func (c *compiler) zoneNamedPorts(f *compiledFlow) []Port {
	out := make([]Port, 0, len(f.ports))
	for _, p := range f.ports {
		if p.Name == "" || p.Protocol != "" {
			out = append(out, p)
			continue
		}
		for _, m := range c.members[f.zone] {
			if np, ok := m.ports[p.Name]; ok {
				out = append(out, Port{Protocol: np.Protocol, Name: p.Name})
			}
		}
	}
	return out
}

func (c *compiler) networkPolicy(w *workload, b *npBuilder) networkingv1.NetworkPolicy {
	np := networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      w.Name,
			Namespace: w.Namespace,
			Labels:    map[string]string{ManagedByLabel: ManagedByValue, WorkloadLabel: w.Name},
		},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{WorkloadLabel: w.Name}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
	ingress, egress := b.ingress.sorted(), b.egress.sorted()

	// Each policy's peers and ports live in one backing array apiece, which
	// saves several allocations per rule. Every rule's slices are capped, so
	// appending to one never overwrites the next.
	var peerCount, portCount int
	for _, rules := range [][]*npRule{ingress, egress} {
		for _, r := range rules {
			peerCount += len(r.peers)
			portCount += len(r.ports)
		}
	}
	a := &npArena{
		peers:     make([]networkingv1.NetworkPolicyPeer, 0, peerCount),
		ports:     make([]networkingv1.NetworkPolicyPort, 0, portCount),
		protocols: make([]corev1.Protocol, 0, portCount),
		values:    make([]intstr.IntOrString, 0, portCount),
	}
	if len(ingress) > 0 {
		np.Spec.Ingress = make([]networkingv1.NetworkPolicyIngressRule, len(ingress))
		for i, r := range ingress {
			np.Spec.Ingress[i] = networkingv1.NetworkPolicyIngressRule{From: a.copyPeers(r.peers), Ports: a.npPorts(r.ports)}
		}
	}
	if len(egress) > 0 {
		np.Spec.Egress = make([]networkingv1.NetworkPolicyEgressRule, len(egress))
		for i, r := range egress {
			np.Spec.Egress[i] = networkingv1.NetworkPolicyEgressRule{To: a.copyPeers(r.peers), Ports: a.npPorts(r.ports)}
		}
	}
	return np
}

// npArena hands out capped slices of one policy's backing arrays.
type npArena struct {
	peers     []networkingv1.NetworkPolicyPeer
	ports     []networkingv1.NetworkPolicyPort
	protocols []corev1.Protocol
	values    []intstr.IntOrString
}

func (a *npArena) copyPeers(peers []networkingv1.NetworkPolicyPeer) []networkingv1.NetworkPolicyPeer {
	start := len(a.peers)
	a.peers = append(a.peers, peers...)
	return a.peers[start:len(a.peers):len(a.peers)]
}

func (a *npArena) npPorts(ports []Port) []networkingv1.NetworkPolicyPort {
	if len(ports) == 0 {
		return nil
	}
	start := len(a.ports)
	for _, p := range ports {
		a.protocols = append(a.protocols, corev1.Protocol(p.Protocol))
		value := intstr.FromInt32(p.Port)
		if p.Name != "" {
			value = intstr.FromString(p.Name)
		}
		a.values = append(a.values, value)
		i := len(a.protocols) - 1
		a.ports = append(a.ports, networkingv1.NetworkPolicyPort{Protocol: &a.protocols[i], Port: &a.values[i]})
	}
	return a.ports[start:len(a.ports):len(a.ports)]
}

func sameSite(a, b *workload) bool { return a.site != nil && a.site == b.site }

func workloadPeer(w *workload) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{NamespaceNameLabel: w.Namespace}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{WorkloadLabel: w.Name}},
	}
}

func zonePeer(zone string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{},
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{ZoneLabel: zone}},
	}
}

func (c *compiler) dnsPeer() networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{NamespaceNameLabel: c.dns.Namespace}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: maps.Clone(c.dns.PodLabels)},
	}
}

func ipBlocks(prefixes []netip.Prefix) []networkingv1.NetworkPolicyPeer {
	out := make([]networkingv1.NetworkPolicyPeer, len(prefixes))
	for i, p := range prefixes {
		out[i] = networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: p.String()}}
	}
	return out
}

// indexIPBlocks computes the IP blocks of the internet and the PSN once.
// Every policy's peers point to the same IPBlock values.
func (c *compiler) indexIPBlocks() {
	for _, all := range []netip.Prefix{allIPv4, allIPv6} {
		if len(intersect(c.internet, []netip.Prefix{all})) == 0 {
			continue
		}
		block := &networkingv1.IPBlock{CIDR: all.String()}
		for _, p := range minus([]netip.Prefix{all}, c.internet) {
			block.Except = append(block.Except, p.String())
		}
		c.internetIPBlocks = append(c.internetIPBlocks, networkingv1.NetworkPolicyPeer{IPBlock: block})
	}
	for _, r := range canonical(c.psnRanges) {
		inside := intersect(c.department, []netip.Prefix{r})
		if len(inside) == 1 && inside[0] == r {
			continue
		}
		block := &networkingv1.IPBlock{CIDR: r.String()}
		for _, p := range inside {
			block.Except = append(block.Except, p.String())
		}
		c.psnIPBlocks = append(c.psnIPBlocks, networkingv1.NetworkPolicyPeer{IPBlock: block})
	}
}
