package enclave

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/reachability"
)

// Finding is the state of one control on one site, or why a site could not
// be checked.
type Finding struct {
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// Probe is a destination address, protocol and port that a verification
// connects to.
type Probe struct {
	IP       netip.Addr
	Protocol corev1.Protocol
	Port     int32
}

func (p Probe) String() string {
	return netip.AddrPortFrom(p.IP, uint16(p.Port)).String() + "/" + string(p.Protocol)
}

// InternetProbes are the internet destinations that VerifyNoInternetEgress
// checks each tenant namespace cannot reach: public DNS resolvers over IPv4
// and IPv6, and addresses just outside 172.16.0.0/12 and 192.168.0.0/16,
// where an off-by-one in the computed prefixes would show.
var InternetProbes = []Probe{
	{IP: netip.MustParseAddr("8.8.8.8"), Protocol: corev1.ProtocolTCP, Port: 443},
	{IP: netip.MustParseAddr("1.1.1.1"), Protocol: corev1.ProtocolUDP, Port: 53},
	{IP: netip.MustParseAddr("2001:4860:4860::8888"), Protocol: corev1.ProtocolTCP, Port: 443},
	{IP: netip.MustParseAddr("172.32.0.1"), Protocol: corev1.ProtocolTCP, Port: 443},
	{IP: netip.MustParseAddr("192.169.0.1"), Protocol: corev1.ProtocolTCP, Port: 80},
}

// TenantProbePorts are the ports that VerifyTenantIsolation checks between
// tenant pods. The enclave's isolation rules name no ports, so a sample of
// common ones shows a rule that was narrowed by hand.
var TenantProbePorts = []reachability.PortProtocol{
	{Protocol: corev1.ProtocolTCP, Port: 443},
	{Protocol: corev1.ProtocolTCP, Port: 8080},
	{Protocol: corev1.ProtocolUDP, Port: 53},
}

// maxListedFailures bounds how many failed connections a message names.
const maxListedFailures = 3

// probePod is a pod that verification places in a tenant namespace. Its
// address is a made-up 10.0.0.0/8 address, inside the ranges the enclave
// does not count as the internet.
type probePod struct {
	endpoint reachability.Endpoint
	tenant   string
}

// tenantPods returns two probe pods per tenant namespace, a plain one and
// one labelled as the gateway, with the namespace labels read from the site.
// It returns the namespaces of the spec that the site lacks.
func tenantPods(e *estatev1.Enclave, namespaces []corev1.Namespace) ([]probePod, []string) {
	live := map[string]*corev1.Namespace{}
	for i := range namespaces {
		live[namespaces[i].Name] = &namespaces[i]
	}

	var pods []probePod
	var missing []string
	for _, tenant := range sortedTenants(e) {
		for _, name := range sortedCopy(tenant.Namespaces) {
			ns, ok := live[name]
			if !ok || !ns.DeletionTimestamp.IsZero() {
				missing = append(missing, name)
				continue
			}
			for _, podLabels := range []map[string]string{{}, {LabelWorkload: e.Spec.CrossDomainGateway.Name}} {
				n := len(pods) + 1
				kind := "probe"
				if len(podLabels) > 0 {
					kind = "gateway-probe"
				}
				pods = append(pods, probePod{
					tenant: tenant.Department,
					endpoint: reachability.Endpoint{
						Name:            name + "/" + kind,
						Namespace:       name,
						NamespaceLabels: ns.Labels,
						PodLabels:       podLabels,
						IP:              netip.AddrFrom4([4]byte{10, 244, byte(n / 256), byte(n % 256)}),
					},
				})
			}
		}
	}
	return pods, missing
}

func missingNamespaces(missing []string) Finding {
	return Finding{
		Status:  metav1.ConditionFalse,
		Reason:  ReasonNamespaceMissing,
		Message: fmt.Sprintf("tenant namespaces missing from the site: %s", strings.Join(missing, ", ")),
	}
}

// deniedByAdmin reports whether a direction was denied in the Admin tier
// with a defined order. A Baseline denial does not count, because a tenant's
// NetworkPolicy overrides it.
func deniedByAdmin(d reachability.Decision) bool {
	return d.Evaluated && !d.Allowed && d.Layer == reachability.LayerAdmin && !d.Ambiguous
}

// VerifyNoInternetEgress checks, against the ClusterNetworkPolicies and
// namespaces read from a site, that every probe pod in the enclave's tenant
// namespaces is denied each of InternetProbes in the Admin tier.
func VerifyNoInternetEgress(e *estatev1.Enclave, namespaces []corev1.Namespace, cnps []v1alpha2.ClusterNetworkPolicy) Finding {
	pods, missing := tenantPods(e, namespaces)
	if len(missing) > 0 {
		return missingNamespaces(missing)
	}
	evaluator, _ := reachability.New(nil, cnps)

	var failures []string
	deciding := map[string]bool{}
	checked := 0
	for _, pod := range pods {
		for _, probe := range InternetProbes {
			checked++
			verdict := evaluator.Check(reachability.Connection{
				From:     pod.endpoint,
				To:       reachability.Endpoint{Name: probe.IP.String(), IP: probe.IP},
				Protocol: probe.Protocol,
				Port:     probe.Port,
			})
			if deniedByAdmin(verdict.Egress) {
				deciding[verdict.Egress.Policy] = true
				continue
			}
			failures = append(failures, fmt.Sprintf("pod %s (tenant %s) can reach %s: %s", pod.endpoint.Name, pod.tenant, probe, verdict.Reason))
		}
	}
	if len(failures) > 0 {
		return Finding{
			Status:  metav1.ConditionFalse,
			Reason:  ReasonInternetReachable,
			Message: failureMessage(failures, checked),
		}
	}
	return Finding{
		Status: metav1.ConditionTrue,
		Reason: ReasonVerified,
		Message: fmt.Sprintf("%d probe pods in %d tenant namespaces are denied %d internet addresses by ClusterNetworkPolicy %s",
			len(pods), len(pods)/2, len(InternetProbes), strings.Join(sortedKeys(deciding), ", ")),
	}
}

// VerifyTenantIsolation checks, against the ClusterNetworkPolicies and
// namespaces read from a site, that no probe pod of one tenant can reach a
// probe pod of another tenant on TenantProbePorts (denied in the Admin tier),
// and that no ClusterNetworkPolicy of this enclave denies traffic between
// probe pods of the same tenant. Policies of others may deny same-tenant
// traffic; that is their business, not a broken control.
func VerifyTenantIsolation(e *estatev1.Enclave, namespaces []corev1.Namespace, cnps []v1alpha2.ClusterNetworkPolicy) Finding {
	pods, missing := tenantPods(e, namespaces)
	if len(missing) > 0 {
		return missingNamespaces(missing)
	}
	evaluator, _ := reachability.New(nil, cnps)
	ours := map[string]bool{}
	for _, cnp := range cnps {
		if cnp.Labels[LabelEnclave] == e.Name {
			ours[cnp.Name] = true
		}
	}

	var crossTenant, sameTenant []string
	checked := 0
	for _, from := range pods {
		for _, to := range pods {
			if from.endpoint.Name == to.endpoint.Name {
				continue
			}
			for _, port := range TenantProbePorts {
				checked++
				verdict := evaluator.Check(reachability.Connection{From: from.endpoint, To: to.endpoint, Protocol: port.Protocol, Port: port.Port})
				connection := fmt.Sprintf("pod %s (tenant %s) to pod %s (tenant %s) on %d/%s", from.endpoint.Name, from.tenant, to.endpoint.Name, to.tenant, port.Port, port.Protocol)
				if from.tenant != to.tenant {
					if !deniedByAdmin(verdict.Egress) && !deniedByAdmin(verdict.Ingress) {
						crossTenant = append(crossTenant, connection+" is not denied: "+verdict.Reason)
					}
					continue
				}
				if denier := deniedBy(verdict); ours[denier] {
					sameTenant = append(sameTenant, connection+" is denied by enclave policy "+denier)
				}
			}
		}
	}

	switch {
	case len(crossTenant) > 0:
		return Finding{Status: metav1.ConditionFalse, Reason: ReasonTenantsConnected, Message: failureMessage(crossTenant, checked)}
	case len(sameTenant) > 0:
		return Finding{Status: metav1.ConditionFalse, Reason: ReasonTenantTrafficDenied, Message: failureMessage(sameTenant, checked)}
	}
	return Finding{
		Status: metav1.ConditionTrue,
		Reason: ReasonVerified,
		Message: fmt.Sprintf("%d connections between probe pods of %d tenants checked: every one across tenants is denied and none within a tenant is denied by the enclave",
			checked, len(e.Spec.Tenants)),
	}
}

// deniedBy returns the policy that denied the connection, or "" when it was
// allowed or no single policy denied it.
func deniedBy(v reachability.Verdict) string {
	switch {
	case v.Egress.Evaluated && !v.Egress.Allowed:
		return v.Egress.Policy
	case v.Ingress.Evaluated && !v.Ingress.Allowed:
		return v.Ingress.Policy
	}
	return ""
}

func failureMessage(failures []string, checked int) string {
	listed := failures[:min(len(failures), maxListedFailures)]
	message := strings.Join(listed, "; ")
	if len(failures) > len(listed) {
		message += fmt.Sprintf("; and %d more", len(failures)-len(listed))
	}
	return fmt.Sprintf("%d of %d checked connections fail: %s", len(failures), checked, message)
}
