// Package netverify proves compiled Kubernetes policy against the intent it
// came from. It evaluates every (source, destination, port) among the
// workloads and a few external addresses with the reachability evaluator,
// and lists each connection where the policy and the intent disagree.
package netverify

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/ukhomeoffice/estate/internal/reachability"
	"github.com/ukhomeoffice/estate/internal/segmentation"
)

// External endpoints the proof probes. They are fixed sample addresses:
// one on the internet (a documentation address outside every private
// range), the cloud metadata address, and the cluster DNS pod.
var (
	internetSample = netip.MustParseAddr("203.0.113.10")
	metadataSample = netip.MustParseAddr("169.254.169.254")
	dnsSample      = netip.MustParseAddr("10.255.0.10")
)

// unusedPort is a port no flow in the reference estate declares, so the
// proof always checks that undeclared traffic is denied.
var unusedPort = reachability.PortProtocol{Protocol: corev1.ProtocolTCP, Port: 2222}

// Difference is one connection where policy and intent disagree.
type Difference struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Protocol string `json:"protocol"`
	Port     int32  `json:"port"`
	// Expected is the intent's verdict and Allowed the policy's.
	Expected bool   `json:"expected"`
	Allowed  bool   `json:"allowed"`
	Reason   string `json:"reason"`
}

// Result is the outcome of a proof.
type Result struct {
	Endpoints   int          `json:"endpoints"`
	Checked     int          `json:"checked"`
	Allowed     int          `json:"allowed"`
	Differences []Difference `json:"differences"`
	Warnings    []string     `json:"warnings,omitempty"`
}

// Proved reports whether policy and intent agree everywhere.
func (r Result) Proved() bool { return len(r.Differences) == 0 }

// endpoint is a probe endpoint and, for a workload, its intent.
type endpoint struct {
	reachability.Endpoint
	workload *segmentation.Workload
	kind     string // "workload", "internet", "psn", "metadata" or "dns"
}

// Verify checks the policies against the intent. rejected lists the flows
// the compiler refused, which the intent therefore does not allow.
func Verify(in segmentation.Intent, rejected []segmentation.Rejection, nps []networkingv1.NetworkPolicy, cnps []v1alpha2.ClusterNetworkPolicy) Result {
	eval, warnings := reachability.New(nps, cnps)
	res := Result{Differences: []Difference{}}
	for _, w := range warnings {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %s", w.Kind, w.Message))
	}

	refused := map[string]bool{}
	for _, r := range rejected {
		refused[r.Workload+"|"+r.Flow] = true
	}
	endpoints := buildEndpoints(in)
	ports := probePorts(in)
	res.Endpoints = len(endpoints)

	for _, src := range endpoints {
		for _, dst := range endpoints {
			if src.Name == dst.Name || (src.workload == nil && dst.workload == nil) {
				continue
			}
			for _, p := range ports {
				v := eval.Check(reachability.Connection{From: src.Endpoint, To: dst.Endpoint, Protocol: p.Protocol, Port: p.Port})
				want := expected(in, refused, src, dst, p)
				res.Checked++
				if v.Allowed {
					res.Allowed++
				}
				if v.Allowed != want {
					res.Differences = append(res.Differences, Difference{
						From: src.Name, To: dst.Name, Protocol: string(p.Protocol), Port: p.Port,
						Expected: want, Allowed: v.Allowed, Reason: v.Reason,
					})
				}
			}
		}
	}
	sort.Slice(res.Differences, func(i, j int) bool {
		a, b := res.Differences[i], res.Differences[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.To != b.To {
			return a.To < b.To
		}
		return a.Port < b.Port
	})
	return res
}

func buildEndpoints(in segmentation.Intent) []endpoint {
	var out []endpoint
	for i := range in.Workloads {
		w := &in.Workloads[i]
		ip, ok := firstIPv4(w.Addresses)
		if !ok {
			continue
		}
		ep := reachability.Endpoint{
			Name:      w.Namespace + "/" + w.Name,
			Namespace: w.Namespace,
			PodLabels: map[string]string{segmentation.WorkloadLabel: w.Name, segmentation.ZoneLabel: w.Zone},
			IP:        ip,
		}
		for _, p := range w.Ports {
			ep.Ports = append(ep.Ports, corev1.ContainerPort{Name: p.Name, ContainerPort: p.Port, Protocol: corev1.Protocol(protocolOrTCP(p.Protocol))})
		}
		out = append(out, endpoint{Endpoint: ep, workload: w, kind: "workload"})
	}
	out = append(out,
		endpoint{Endpoint: reachability.Endpoint{Name: "internet " + internetSample.String(), IP: internetSample}, kind: "internet"},
		endpoint{Endpoint: reachability.Endpoint{Name: "metadata " + metadataSample.String(), IP: metadataSample}, kind: "metadata"},
		endpoint{Endpoint: reachability.Endpoint{
			Name: "kube-system/kube-dns", Namespace: dnsNamespace(in), PodLabels: dnsLabels(in), IP: dnsSample,
			Ports: []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP}},
		}, kind: "dns"},
	)
	if len(in.PSNRanges) > 0 {
		psn := in.PSNRanges[0].Addr().Next().Next()
		out = append(out, endpoint{Endpoint: reachability.Endpoint{Name: "psn " + psn.String(), IP: psn}, kind: "psn"})
	}
	return out
}

// probePorts is every port a flow, a served port or the zone matrix names,
// plus DNS and one unused port.
func probePorts(in segmentation.Intent) []reachability.PortProtocol {
	set := map[reachability.PortProtocol]bool{
		{Protocol: corev1.ProtocolUDP, Port: 53}: true,
		{Protocol: corev1.ProtocolTCP, Port: 53}: true,
		unusedPort:                               true,
	}
	add := func(protocol string, port int32) {
		if port > 0 {
			set[reachability.PortProtocol{Protocol: corev1.Protocol(protocolOrTCP(protocol)), Port: port}] = true
		}
	}
	for _, w := range in.Workloads {
		for _, p := range w.Ports {
			add(p.Protocol, p.Port)
		}
		for _, f := range w.Flows {
			for _, p := range f.Ports {
				add(p.Protocol, p.Port)
			}
		}
	}
	out := make([]reachability.PortProtocol, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Port != out[j].Port {
			return out[i].Port < out[j].Port
		}
		return out[i].Protocol < out[j].Protocol
	})
	return out
}

// expected returns the intent's verdict. A connection is allowed only by a
// declared, compiled flow of the source, by DNS to the cluster DNS, or by
// an exposure the zone matrix allows. A flow reaches the destination
// workload, its zone, or the external network it belongs to. Nothing
// reaches the metadata address.
func expected(in segmentation.Intent, refused map[string]bool, src, dst endpoint, p reachability.PortProtocol) bool {
	switch {
	case dst.kind == "metadata":
		return false
	case dst.kind == "dns":
		return src.workload != nil && p.Port == 53
	case src.workload != nil:
		for _, f := range src.workload.Flows {
			if refused[src.Name+"|"+f.Name] || !flowReaches(src.workload, f, dst) {
				continue
			}
			for _, fp := range f.Ports {
				if portMatches(fp, dst, p) {
					return true
				}
			}
		}
		return false
	case dst.workload != nil:
		return exposureAllows(in, refused, src, dst, p)
	}
	return false
}

func flowReaches(from *segmentation.Workload, f segmentation.Flow, dst endpoint) bool {
	switch {
	case f.To.Workload != "":
		target := f.To.Workload
		if !strings.Contains(target, "/") {
			target = from.Namespace + "/" + target
		}
		return dst.workload != nil && dst.Name == target
	case f.To.Zone != "":
		return dst.workload != nil && dst.workload.Zone == f.To.Zone
	case f.To.External == segmentation.ExternalInternet:
		return dst.kind == "internet"
	case f.To.External == segmentation.ExternalPSN:
		return dst.kind == "psn"
	}
	return false
}

// portMatches resolves a flow port, by number or by the destination's
// port name, against the probed port.
func portMatches(fp segmentation.Port, dst endpoint, p reachability.PortProtocol) bool {
	if corev1.Protocol(protocolOrTCP(fp.Protocol)) != p.Protocol {
		return false
	}
	if fp.Name == "" {
		return fp.Port == p.Port
	}
	if dst.workload == nil {
		return false
	}
	for _, np := range dst.workload.Ports {
		if np.Name == fp.Name && corev1.Protocol(protocolOrTCP(np.Protocol)) == p.Protocol {
			return np.Port == p.Port
		}
	}
	return false
}

// exposureAllows reports inbound traffic from an external network to a
// workload exposed to it, on a port the zone matrix allows from that
// network.
func exposureAllows(in segmentation.Intent, refused map[string]bool, src, dst endpoint, p reachability.PortProtocol) bool {
	from := ""
	switch {
	case src.kind == "internet" && dst.workload.Exposure == segmentation.ExposureInternet:
		from = segmentation.MatrixInternet
	case src.kind == "psn" && dst.workload.Exposure == segmentation.ExposurePSN:
		from = segmentation.MatrixPSN
	default:
		return false
	}
	if refused[dst.Name+"|"] {
		return false
	}
	for _, rule := range in.Matrix {
		if rule.From != from || rule.To != dst.workload.Zone {
			continue
		}
		// A workload that declares the ports it serves is exposed only on
		// those the matrix allows; one that declares none, on the
		// matrix's ports.
		if len(dst.workload.Ports) > 0 && !serves(dst.workload, p) {
			continue
		}
		if len(rule.Ports) == 0 {
			return true
		}
		for _, rp := range rule.Ports {
			if rp.Name == "" && corev1.Protocol(protocolOrTCP(rp.Protocol)) == p.Protocol && rp.Port == p.Port {
				return true
			}
			if rp.Name != "" && len(dst.workload.Ports) > 0 && servesNamed(dst.workload, rp.Name, p) {
				return true
			}
		}
	}
	return false
}

func servesNamed(w *segmentation.Workload, name string, p reachability.PortProtocol) bool {
	for _, np := range w.Ports {
		if np.Name == name && np.Port == p.Port && corev1.Protocol(protocolOrTCP(np.Protocol)) == p.Protocol {
			return true
		}
	}
	return false
}

func serves(w *segmentation.Workload, p reachability.PortProtocol) bool {
	for _, np := range w.Ports {
		if np.Port == p.Port && corev1.Protocol(protocolOrTCP(np.Protocol)) == p.Protocol {
			return true
		}
	}
	return false
}

func firstIPv4(ps []netip.Prefix) (netip.Addr, bool) {
	for _, p := range ps {
		if p.Addr().Is4() {
			return p.Addr().Next(), true
		}
	}
	return netip.Addr{}, false
}

func dnsNamespace(in segmentation.Intent) string {
	if in.ClusterDNS.Namespace != "" {
		return in.ClusterDNS.Namespace
	}
	return "kube-system"
}

func dnsLabels(in segmentation.Intent) map[string]string {
	if len(in.ClusterDNS.PodLabels) > 0 {
		return in.ClusterDNS.PodLabels
	}
	return map[string]string{"k8s-app": "kube-dns"}
}

func protocolOrTCP(p string) string {
	if p == "" {
		return "TCP"
	}
	return p
}
