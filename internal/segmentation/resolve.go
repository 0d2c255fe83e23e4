package segmentation

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

type targetKind int

const (
	toWorkload targetKind = iota
	toZone
	toPSN
	toInternet
)

// compiledFlow is a declared flow that the intent allows.
type compiledFlow struct {
	src    *workload
	name   string
	flowID string // "namespace/name/flow"
	kind   targetKind
	dst    *workload // for toWorkload
	zone   string    // for toZone
	// ports are resolved on dst for toWorkload: Protocol and Port are set,
	// and Name is kept when the flow named the port. For toZone a named port
	// stays unresolved, because each member of the zone resolves it.
	ports []Port
	// targets are the destination workloads with the ports resolved on each,
	// for toWorkload and toZone. resolveFlows fills them in before any
	// output is built, and the outputs only read them.
	targets []delivery
}

// id returns the flow's identity for rule comments and descriptions,
// "namespace/name/flow".
func (f *compiledFlow) id() string { return f.flowID }

// delivery is one destination workload of a flow and the ports resolved on it.
type delivery struct {
	dst   *workload
	ports []Port
}

// grant is an exposure that the zone matrix allows: connections from the
// internet or the PSN to a workload.
type grant struct {
	from string // MatrixInternet or MatrixPSN
	all  bool   // every port and protocol
	// ports are numbers; Name is set where the workload declares the port.
	ports []Port
}

// resolveFlows compiles every declared flow and exposure, and records a
// Rejection for each one the intent does not allow.
func (c *compiler) resolveFlows() {
	for _, w := range c.workloads {
		if !w.knownZone {
			c.reject(w, "", ReasonUnknownZone, "the workload is in zone %q, which the Network does not declare, so none of its flows or exposure is compiled; declare the zone in the Network or move the workload to a declared zone", w.Zone)
		}
		flows := slices.Clone(w.Flows)
		slices.SortFunc(flows, func(a, b Flow) int { return strings.Compare(a.Name, b.Name) })
		for _, f := range flows {
			cf := c.resolveFlow(w, f)
			if cf == nil {
				continue
			}
			c.flows = append(c.flows, cf)
		}
		c.resolveExposure(w)
	}
	for _, f := range c.flows {
		f.flowID = f.src.key + "/" + f.name
		f.targets = c.computeDeliveries(f)
	}
	slices.SortFunc(c.rejected, func(a, b Rejection) int {
		if n := strings.Compare(a.Workload, b.Workload); n != 0 {
			return n
		}
		return strings.Compare(a.Flow, b.Flow)
	})
}

func (c *compiler) reject(w *workload, flow string, reason Reason, format string, args ...any) {
	subject := "workload " + w.key
	if flow != "" {
		subject = fmt.Sprintf("flow %q of workload %s", flow, w.key)
	}
	c.rejected = append(c.rejected, Rejection{
		Workload: w.key,
		Flow:     flow,
		Reason:   reason,
		Message:  subject + " was rejected: " + fmt.Sprintf(format, args...),
	})
}

// resolveFlow returns the compiled flow, or nil after recording why it was rejected.
func (c *compiler) resolveFlow(s *workload, f Flow) *compiledFlow {
	if !s.knownZone {
		c.reject(s, f.Name, ReasonUnknownZone, "the workload's zone %q is not declared by the Network; declare the zone or move the workload to a declared zone", s.Zone)
		return nil
	}
	switch {
	case f.To.Workload != "":
		return c.resolveWorkloadFlow(s, f)
	case f.To.Zone != "":
		return c.resolveZoneFlow(s, f)
	default:
		return c.resolveExternalFlow(s, f)
	}
}

func (c *compiler) resolveWorkloadFlow(s *workload, f Flow) *compiledFlow {
	key := f.To.Workload
	if !strings.Contains(key, "/") {
		key = s.Namespace + "/" + key
	}
	d := c.byKey[key]
	if d == nil {
		c.reject(s, f.Name, ReasonUnknownWorkload, "it targets workload %s, which does not exist; set to.workload to \"namespace/name\" of an existing Workload or remove the flow", key)
		return nil
	}
	if !d.knownZone {
		c.reject(s, f.Name, ReasonUnknownZone, "its destination %s is in zone %q, which the Network does not declare; declare the zone or move %s to a declared zone", d.key, d.Zone, d.key)
		return nil
	}

	// Check ports in a fixed order, so the first problem reported does not
	// depend on the order they were declared in.
	ports := make([]Port, 0, len(f.Ports))
	for _, p := range sortPorts(slices.Clone(f.Ports)) {
		rp, ok := resolveOn(d, p)
		if !ok {
			c.reject(s, f.Name, ReasonUnknownPort, "%s; %s", unknownPortProblem(d, p), unknownPortFix(d, p))
			return nil
		}
		ports = append(ports, rp)
	}
	ports = sortPorts(ports)

	a := c.matrix[zonePair{s.Zone, d.Zone}]
	var forbidden []string
	for _, p := range ports {
		if !a.permits(p, portNames(d, p)...) {
			forbidden = append(forbidden, formatPort(p))
		}
	}
	if len(forbidden) > 0 {
		c.rejectMatrix(s, f.Name, s.Zone, d.Zone, forbidden)
		return nil
	}
	return &compiledFlow{src: s, name: f.Name, kind: toWorkload, dst: d, ports: ports}
}

func (c *compiler) resolveZoneFlow(s *workload, f Flow) *compiledFlow {
	zone := f.To.Zone
	if isExternalName(zone) {
		c.reject(s, f.Name, ReasonUnknownZone, "it targets zone %q, which is the name of an external network; set to.external to PSN or Internet instead", zone)
		return nil
	}
	if _, ok := c.zones[zone]; !ok {
		c.reject(s, f.Name, ReasonUnknownZone, "it targets zone %q, which the Network does not declare; declare the zone or correct to.zone", zone)
		return nil
	}
	ports := sortPorts(slices.Clone(f.Ports))
	for _, p := range ports {
		if p.Name == "" {
			continue
		}
		served := false
		for _, m := range c.members[zone] {
			if _, ok := resolveOn(m, p); ok {
				served = true
				break
			}
		}
		if !served {
			c.reject(s, f.Name, ReasonUnknownPort, "no workload in zone %q serves a port named %q%s; declare the port in a workload's spec.ports or give the port number", zone, p.Name, protocolSuffix(p))
			return nil
		}
	}

	a := c.matrix[zonePair{s.Zone, zone}]
	var forbidden []string
	for _, p := range ports {
		if !a.permits(p, p.Name) {
			forbidden = append(forbidden, formatPort(p))
		}
	}
	if len(forbidden) > 0 {
		c.rejectMatrix(s, f.Name, s.Zone, zone, forbidden)
		return nil
	}
	return &compiledFlow{src: s, name: f.Name, kind: toZone, zone: zone, ports: ports}
}

func (c *compiler) resolveExternalFlow(s *workload, f Flow) *compiledFlow {
	to, kind := MatrixPSN, toPSN
	if f.To.External == ExternalInternet {
		to, kind = MatrixInternet, toInternet
	}
	ports := sortPorts(slices.Clone(f.Ports))
	for _, p := range ports {
		if p.Name != "" {
			c.reject(s, f.Name, ReasonUnknownPort, "it names port %q, but %s has no named ports; give the port number", p.Name, f.To.External)
			return nil
		}
	}
	if kind == toInternet && s.enclave {
		c.reject(s, f.Name, ReasonEnclaveToInternet, "the workload is in the Tier 2 enclave (zone %q, site %q), which has no route to the internet; remove the flow or route it through the cross-domain gateway", s.Zone, s.Site)
		return nil
	}
	a := c.matrix[zonePair{s.Zone, to}]
	var forbidden []string
	for _, p := range ports {
		if !a.permits(p) {
			forbidden = append(forbidden, formatPort(p))
		}
	}
	if len(forbidden) > 0 {
		c.rejectMatrix(s, f.Name, s.Zone, to, forbidden)
		return nil
	}
	if kind == toPSN && len(c.psn) == 0 {
		c.reject(s, f.Name, ReasonNoPSNRanges, "it targets the PSN, but the Network declares no PSN range outside its own address spaces; add the PSN ranges to spec.psn.ranges")
		return nil
	}
	return &compiledFlow{src: s, name: f.Name, kind: kind, ports: ports}
}

func (c *compiler) rejectMatrix(s *workload, flow, from, to string, forbidden []string) {
	c.reject(s, flow, ReasonZoneMatrixForbids, "the zone matrix does not allow %s to %s on %s; add a zoneMatrix rule from %q to %q for %s, or remove %s from the flow",
		from, to, strings.Join(forbidden, ", "), from, to, strings.Join(forbidden, ", "), plural(len(forbidden), "that port", "those ports"))
}

// resolveExposure grants the workload's exposure where the zone matrix allows it.
func (c *compiler) resolveExposure(w *workload) {
	var from string
	switch w.Exposure {
	case ExposureInternet:
		from = MatrixInternet
	case ExposurePSN:
		from = MatrixPSN
	default:
		return
	}
	if !w.knownZone {
		return
	}
	if from == MatrixInternet && w.enclave {
		c.reject(w, "", ReasonEnclaveToInternet, "its exposure is Internet, but it is in the Tier 2 enclave (zone %q, site %q), which has no route to the internet; set exposure to PSN or Internal", w.Zone, w.Site)
		return
	}
	a := c.matrix[zonePair{from, w.Zone}]
	if a == nil {
		c.reject(w, "", ReasonZoneMatrixForbids, "its exposure is %s, but the zone matrix allows no connections from %s to zone %q; add a zoneMatrix rule from %q to %q, or set exposure to Internal", w.Exposure, from, w.Zone, from, w.Zone)
		return
	}
	if from == MatrixPSN && len(c.psn) == 0 {
		c.reject(w, "", ReasonNoPSNRanges, "its exposure is PSN, but the Network declares no PSN range outside its own address spaces; add the PSN ranges to spec.psn.ranges or set exposure to Internal")
		return
	}

	g := grant{from: from}
	switch {
	case len(w.ports) > 0:
		for _, name := range sortedPortNames(w) {
			np := w.ports[name]
			p := Port{Protocol: np.Protocol, Port: np.Port, Name: np.Name}
			if a.permits(p, np.Name) {
				g.ports = append(g.ports, p)
			}
		}
	case a.all:
		g.all = true
	default:
		for _, p := range a.ports {
			if p.Name == "" {
				g.ports = append(g.ports, p)
			}
		}
	}
	if !g.all && len(g.ports) == 0 {
		c.reject(w, "", ReasonZoneMatrixForbids, "its exposure is %s, but the zone matrix allows %s to zone %q only on %s, which the workload does not serve; declare one of those ports in spec.ports or add a zoneMatrix rule for the ports it serves",
			w.Exposure, from, w.Zone, formatPorts(a.ports))
		return
	}
	g.ports = sortPorts(g.ports)
	c.exposures[w.key] = append(c.exposures[w.key], g)
}

// deliveries returns the destination workloads of a flow to a workload or a
// zone, each with the ports resolved on it.
func (c *compiler) deliveries(f *compiledFlow) []delivery { return f.targets }

// computeDeliveries resolves a flow's ports on each destination. A zone
// member that serves none of the flow's named ports is left out.
func (c *compiler) computeDeliveries(f *compiledFlow) []delivery {
	switch f.kind {
	case toWorkload:
		return []delivery{{dst: f.dst, ports: f.ports}}
	case toZone:
		members := c.members[f.zone]
		out := make([]delivery, 0, len(members))
		for _, m := range members {
			if d, ok := deliveryTo(m, f); ok {
				out = append(out, d)
			}
		}
		return out
	}
	return nil
}

// deliveryTo returns the ports of a flow to a zone as resolved on one member.
func deliveryTo(m *workload, f *compiledFlow) (delivery, bool) {
	if !hasNamedPort(f.ports) {
		return delivery{dst: m, ports: f.ports}, true
	}
	ports := make([]Port, 0, len(f.ports))
	for _, p := range f.ports {
		if rp, ok := resolveOn(m, p); ok {
			ports = append(ports, rp)
		}
	}
	if len(ports) == 0 {
		return delivery{}, false
	}
	return delivery{dst: m, ports: sortPorts(ports)}, true
}

func hasNamedPort(ports []Port) bool {
	for _, p := range ports {
		if p.Name != "" {
			return true
		}
	}
	return false
}

// resolveOn resolves a named port on the destination workload. A numbered
// port is returned unchanged.
func resolveOn(d *workload, p Port) (Port, bool) {
	if p.Name == "" {
		return p, true
	}
	np, ok := d.ports[p.Name]
	if !ok || (p.Protocol != "" && p.Protocol != np.Protocol) {
		return Port{}, false
	}
	return Port{Protocol: np.Protocol, Port: np.Port, Name: p.Name}, true
}

// portNames returns the names under which the destination serves a resolved port.
func portNames(d *workload, p Port) []string {
	if p.Name != "" {
		return []string{p.Name}
	}
	return d.names[portNumber{p.Protocol, p.Port}]
}

// permits reports whether the allowance covers a port. names are the names
// the destination serves the port under, or the flow's port name for a zone.
// A named matrix entry matches only by name.
func (a *allowance) permits(p Port, names ...string) bool {
	if a == nil {
		return false
	}
	if a.all {
		return true
	}
	for _, e := range a.ports {
		if e.Protocol != "" && p.Protocol != "" && e.Protocol != p.Protocol {
			continue
		}
		if e.Port != 0 && e.Port == p.Port && p.Protocol != "" {
			return true
		}
		if e.Name != "" && slices.Contains(names, e.Name) {
			return true
		}
	}
	return false
}

func unknownPortProblem(d *workload, p Port) string {
	if np, ok := d.ports[p.Name]; ok {
		return fmt.Sprintf("%s serves port %q over %s, not %s", d.key, p.Name, np.Protocol, p.Protocol)
	}
	return fmt.Sprintf("%s does not serve a port named %q", d.key, p.Name)
}

func unknownPortFix(d *workload, p Port) string {
	if np, ok := d.ports[p.Name]; ok {
		return fmt.Sprintf("set the flow's protocol to %s", np.Protocol)
	}
	return fmt.Sprintf("declare the port in spec.ports of %s or give the port number", d.key)
}

func protocolSuffix(p Port) string {
	if p.Protocol == "" {
		return ""
	}
	return " over " + p.Protocol
}

func sortedPortNames(w *workload) []string {
	names := make([]string, 0, len(w.ports))
	for name := range w.ports {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// formatPort returns a port as "TCP/443", "TCP/https" or "TCP/443 (https)".
func formatPort(p Port) string {
	protocol := p.Protocol
	if protocol == "" {
		protocol = "any protocol"
	}
	switch {
	case p.Port == 0:
		return protocol + "/" + p.Name
	case p.Name != "":
		return protocol + "/" + strconv.Itoa(int(p.Port)) + " (" + p.Name + ")"
	}
	return protocol + "/" + strconv.Itoa(int(p.Port))
}

func formatPorts(ports []Port) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = formatPort(p)
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
