package segmentation_test

import (
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/ukhomeoffice/estate/internal/segmentation"
)

// oracle decides from the intent alone, without the compiler, whether a
// connection is allowed. It restates the rules of the package documentation:
//
//   - A flow is compiled whole or not at all. It is dropped when its source
//     or destination zone is undeclared, or its destination workload or zone
//     does not exist, or a named port does not resolve. It is also dropped
//     when it goes from the enclave to the internet, or to the PSN while no
//     PSN range lies outside the department spaces, or when the zone matrix
//     lacks any one of its ports.
//   - A matrix entry with a number matches that protocol and number. A named
//     entry matches a flow to a workload when the destination serves the
//     port under that name, and a flow to a zone when the flow names it.
//   - An exposure admits its external network on the workload's served ports
//     that the matrix allows from that network to the workload's zone, or,
//     for a workload that declares no ports, on the matrix's numbered ports
//     or every port.
type oracle struct {
	in           segmentation.Intent
	zones        map[string]bool
	enclaveZones map[string]bool
	enclaveSites map[string]bool
	workloads    map[string]*segmentation.Workload
	psnOutside   bool // some PSN address lies outside the department spaces
}

func newOracle(in segmentation.Intent) *oracle {
	o := &oracle{in: in, zones: map[string]bool{}, enclaveZones: map[string]bool{}, enclaveSites: map[string]bool{}, workloads: map[string]*segmentation.Workload{}}
	for _, z := range in.Zones {
		o.zones[z.Name] = true
	}
	enclave := in.EnclaveZones
	if len(enclave) == 0 && o.zones["enclave"] {
		enclave = []string{"enclave"}
	}
	for _, z := range enclave {
		o.enclaveZones[z] = true
	}
	for _, s := range in.Sites {
		o.enclaveSites[s.Name] = s.Enclave
	}
	for i := range in.Workloads {
		w := &in.Workloads[i]
		o.workloads[w.Namespace+"/"+w.Name] = w
	}
	var b netipx.IPSetBuilder
	for _, p := range in.PSNRanges {
		b.AddPrefix(p)
	}
	for _, p := range in.DepartmentSpaces {
		b.RemovePrefix(p)
	}
	psn, _ := b.IPSet()
	o.psnOutside = psn != nil && len(psn.Prefixes()) > 0
	return o
}

func (o *oracle) isEnclave(w *segmentation.Workload) bool {
	return o.enclaveZones[w.Zone] || o.enclaveSites[w.Site]
}

func protocolOrTCP(p string) string {
	if p == "" {
		return "TCP"
	}
	return strings.ToUpper(p)
}

// matrixAllows reports whether the matrix allows from → to on a port. number
// is 0 for a port known only by name; name is "" for a port without one.
func (o *oracle) matrixAllows(from, to, protocol string, number int32, name string) bool {
	for _, r := range o.in.Matrix {
		if r.From != from || r.To != to {
			continue
		}
		if len(r.Ports) == 0 {
			return true
		}
		for _, e := range r.Ports {
			if e.Name != "" {
				entryProtocol := strings.ToUpper(e.Protocol)
				if name == e.Name && (entryProtocol == "" || protocol == "" || entryProtocol == protocol) {
					return true
				}
				continue
			}
			if number != 0 && e.Port == number && protocolOrTCP(e.Protocol) == protocol {
				return true
			}
		}
	}
	return false
}

// served returns the workload's port with the given name, with its protocol.
func served(w *segmentation.Workload, name string) (segmentation.NamedPort, bool) {
	for _, p := range w.Ports {
		if p.Name == name {
			p.Protocol = protocolOrTCP(p.Protocol)
			return p, true
		}
	}
	return segmentation.NamedPort{}, false
}

// namesOf returns the names under which the workload serves a protocol and number.
func namesOf(w *segmentation.Workload, protocol string, number int32) []string {
	var names []string
	for _, p := range w.Ports {
		if protocolOrTCP(p.Protocol) == protocol && p.Port == number {
			names = append(names, p.Name)
		}
	}
	return names
}

// resolve returns the protocol and number a flow port has on a destination.
func resolve(d *segmentation.Workload, p segmentation.Port) (string, int32, bool) {
	if p.Name == "" {
		return protocolOrTCP(p.Protocol), p.Port, true
	}
	np, ok := served(d, p.Name)
	if !ok || (p.Protocol != "" && strings.ToUpper(p.Protocol) != np.Protocol) {
		return "", 0, false
	}
	return np.Protocol, np.Port, true
}

func (o *oracle) destination(s *segmentation.Workload, f segmentation.Flow) *segmentation.Workload {
	key := f.To.Workload
	if !strings.Contains(key, "/") {
		key = s.Namespace + "/" + key
	}
	return o.workloads[key]
}

// compiles reports whether a declared flow survives every check.
func (o *oracle) compiles(s *segmentation.Workload, f segmentation.Flow) bool {
	if !o.zones[s.Zone] {
		return false
	}
	switch {
	case f.To.Workload != "":
		d := o.destination(s, f)
		if d == nil || !o.zones[d.Zone] {
			return false
		}
		for _, p := range f.Ports {
			protocol, number, ok := resolve(d, p)
			if !ok {
				return false
			}
			names := []string{p.Name}
			if p.Name == "" {
				names = append(namesOf(d, protocol, number), "")
			}
			if !slices.ContainsFunc(names, func(name string) bool { return o.matrixAllows(s.Zone, d.Zone, protocol, number, name) }) {
				return false
			}
		}
		return true

	case f.To.Zone != "":
		if !o.zones[f.To.Zone] {
			return false
		}
		for _, p := range f.Ports {
			if p.Name == "" {
				if !o.matrixAllows(s.Zone, f.To.Zone, protocolOrTCP(p.Protocol), p.Port, "") {
					return false
				}
				continue
			}
			servedSomewhere := false
			for _, m := range o.in.Workloads {
				if m.Zone == f.To.Zone {
					if _, _, ok := resolve(&m, p); ok {
						servedSomewhere = true
					}
				}
			}
			if !servedSomewhere || !o.matrixAllows(s.Zone, f.To.Zone, strings.ToUpper(p.Protocol), 0, p.Name) {
				return false
			}
		}
		return true

	default:
		to := "psn"
		if f.To.External == segmentation.ExternalInternet {
			to = "internet"
			if o.isEnclave(s) {
				return false
			}
		} else if !o.psnOutside {
			return false
		}
		for _, p := range f.Ports {
			if p.Name != "" || !o.matrixAllows(s.Zone, to, protocolOrTCP(p.Protocol), p.Port, "") {
				return false
			}
		}
		return true
	}
}

// allows reports whether the intent allows s to open a connection to d.
func (o *oracle) allows(s, d *segmentation.Workload, protocol string, port int32) bool {
	protocol = strings.ToUpper(protocol)
	for _, f := range s.Flows {
		targets := (f.To.Workload != "" && o.destination(s, f) == d) || (f.To.Zone != "" && f.To.Zone == d.Zone)
		if !targets || !o.compiles(s, f) {
			continue
		}
		for _, p := range f.Ports {
			if got, number, ok := resolve(d, p); ok && got == protocol && number == port {
				return true
			}
		}
	}
	return false
}

// allowsExternal reports whether the intent allows s to connect to an
// external network, "internet" or "psn".
func (o *oracle) allowsExternal(s *segmentation.Workload, network, protocol string, port int32) bool {
	protocol = strings.ToUpper(protocol)
	for _, f := range s.Flows {
		if f.To.External == "" || strings.ToLower(string(f.To.External)) != network || !o.compiles(s, f) {
			continue
		}
		for _, p := range f.Ports {
			if protocolOrTCP(p.Protocol) == protocol && p.Port == port {
				return true
			}
		}
	}
	return false
}

// exposureAllows reports whether the intent lets an external network,
// "internet" or "psn", open a connection to d.
func (o *oracle) exposureAllows(d *segmentation.Workload, network, protocol string, port int32) bool {
	protocol = strings.ToUpper(protocol)
	if !o.zones[d.Zone] || strings.ToLower(string(d.Exposure)) != network {
		return false
	}
	if network == "internet" && o.isEnclave(d) || network == "psn" && !o.psnOutside {
		return false
	}
	hasRule := slices.ContainsFunc(o.in.Matrix, func(r segmentation.ZoneRule) bool { return r.From == network && r.To == d.Zone })
	if !hasRule {
		return false
	}
	if len(d.Ports) > 0 {
		for _, p := range d.Ports {
			if protocolOrTCP(p.Protocol) == protocol && p.Port == port && o.matrixAllows(network, d.Zone, protocol, port, p.Name) {
				return true
			}
		}
		return false
	}
	return o.matrixAllows(network, d.Zone, protocol, port, "")
}

// firstHost returns the first address after the network address of the
// workload's prefix of the given family.
func firstHost(w *segmentation.Workload, v4 bool) (netip.Addr, bool) {
	for _, p := range w.Addresses {
		if p.Addr().Is4() == v4 {
			return p.Masked().Addr().Next(), true
		}
	}
	return netip.Addr{}, false
}
