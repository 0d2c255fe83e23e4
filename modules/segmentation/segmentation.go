// Package segmentation declares AWS security groups and their rules from a
// plain description of the groups, such as the one compiled from the
// Network's zone matrix. Each group holds exactly the rules given: AWS's
// default allow-all egress rule is removed when the group is created, and
// every rule is its own resource, so a rule removed from the description is
// removed from AWS.
package segmentation

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/ukhomeoffice/estate/modules/internal/addressplan"
)

// TypeToken is the component's Pulumi type.
const TypeToken = "estate:network:Segmentation"

// GroupTag is the tag key whose value is the group's Name from Args, set on
// each security group and rule.
const GroupTag = "estate.homeoffice.gov.uk/security-group"

// Protocols a rule may use. AllProtocols allows every protocol and port.
const (
	ProtocolTCP    = "tcp"
	ProtocolUDP    = "udp"
	ProtocolICMP   = "icmp"
	ProtocolICMPv6 = "icmpv6"
	AllProtocols   = "-1"
)

// Args describes the security groups of one VPC.
type Args struct {
	// VpcID is the VPC the groups belong to.
	VpcID pulumi.StringInput
	// Groups are the security groups, each with its complete rule set.
	Groups []Group
	// Tags are added to every resource.
	Tags map[string]string
}

// Group is one security group.
type Group struct {
	// Name of the group, unique within Args, for example "application".
	Name string `json:"name"`
	// Description of what the group is for. AWS cannot change it in place,
	// so changing it replaces the group.
	Description string `json:"description,omitempty"`
	// Ingress rules: who may connect to members of the group.
	Ingress []Rule `json:"ingress,omitempty"`
	// Egress rules: what members of the group may connect to.
	Egress []Rule `json:"egress,omitempty"`
}

// Rule allows one protocol and port range to or from a set of peers. Each
// rule names its peers with CIDRs, SourceGroup or both.
type Rule struct {
	// Protocol is tcp, udp, icmp, icmpv6, -1 (also written all) for all
	// protocols, or an IP protocol number, in any letter case. AWS applies
	// port ranges to tcp, udp, icmp and icmpv6 only, so a rule for any
	// other protocol must give both ports as 0 and allows the whole protocol.
	Protocol string `json:"protocol"`
	// FromPort and ToPort bound the port range for tcp and udp, inclusive.
	// For icmp and icmpv6 they are the ICMP type and code, with -1 meaning
	// any. For -1 (all protocols) they are ignored.
	FromPort int `json:"fromPort"`
	ToPort   int `json:"toPort"`
	// CIDRs are the peer blocks, IPv4 or IPv6.
	CIDRs []string `json:"cidrs,omitempty"`
	// SourceGroup names a group in Args, this one included, whose members
	// are peers. On an egress rule it is the destination group.
	SourceGroup string `json:"sourceGroup,omitempty"`
	// Description is the reason for the rule.
	Description string `json:"description,omitempty"`
}

// Segmentation is the declared set of security groups.
type Segmentation struct {
	pulumi.ResourceState

	// GroupIDs maps each group name to its security group ID.
	GroupIDs pulumi.StringMapOutput `pulumi:"groupIds"`
}

// New declares the security groups and their rules. It checks the rules first
// and returns an error naming the bad group and rule without declaring
// anything.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Segmentation, error) {
	if args.VpcID == nil {
		return nil, fmt.Errorf("segmentation %s: VpcID is not set; pass the VPC's ID, for example the site network's VpcID", name)
	}
	planned, err := planRules(args.Groups)
	if err != nil {
		return nil, fmt.Errorf("segmentation %s: %w", name, err)
	}

	component := &Segmentation{}
	if err := ctx.RegisterComponentResource(TypeToken, name, component, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(component)

	groupIDs := map[string]pulumi.IDOutput{}
	outputIDs := pulumi.StringMap{}
	for _, group := range args.Groups {
		groupName := name + "-" + group.Name
		sg, err := ec2.NewSecurityGroup(ctx, groupName, &ec2.SecurityGroupArgs{
			VpcId:       args.VpcID,
			Name:        pulumi.String(groupName),
			Description: pulumi.String(groupDescription(group)),
			// Rules added outside this program, for example by an AWS
			// service, can block the group's deletion, so revoke them first.
			RevokeRulesOnDelete: pulumi.Bool(true),
			Tags: pulumi.ToStringMap(addressplan.MergeTags(args.Tags, map[string]string{
				"Name":   groupName,
				GroupTag: group.Name,
			})),
		}, parent)
		if err != nil {
			return nil, err
		}
		groupIDs[group.Name] = sg.ID()
		outputIDs[group.Name] = sg.ID().ToStringOutput()
	}

	for _, rule := range planned {
		if err := declareRule(ctx, name, rule, groupIDs, args.Tags, parent); err != nil {
			return nil, err
		}
	}

	component.GroupIDs = outputIDs.ToStringMapOutput()
	if err := ctx.RegisterResourceOutputs(component, pulumi.Map{"groupIds": component.GroupIDs}); err != nil {
		return nil, err
	}
	return component, nil
}

func groupDescription(group Group) string {
	if group.Description != "" {
		return group.Description
	}
	return "Security group " + group.Name + " declared by the estate"
}

// plannedRule is one AWS rule resource: a Rule split so that it has one peer.
type plannedRule struct {
	group     string
	direction string // "ingress" or "egress"
	protocol  string
	fromPort  int
	toPort    int
	cidr      string // empty when peerGroup is set
	peerGroup string
	desc      string
}

// key names the rule's resource from its content, so that reordering the
// rules in Args renames nothing and replaces nothing.
func (r plannedRule) key() string {
	// URNs separate their parts with "::", which an IPv6 block may contain.
	peer := strings.NewReplacer(":", "_", "/", "_").Replace(r.cidr)
	if r.peerGroup != "" {
		peer = "sg-" + r.peerGroup
	}
	return fmt.Sprintf("%s-%s-%s-%s-%s", r.group, r.direction, protocolName(r.protocol), portRange(r), peer)
}

func protocolName(protocol string) string {
	if protocol == AllProtocols {
		return "all"
	}
	return protocol
}

func portRange(r plannedRule) string {
	if portless(r.protocol) {
		return "any"
	}
	return strconv.Itoa(r.fromPort) + "-" + strconv.Itoa(r.toPort)
}

var groupName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// planRules checks the groups and splits their rules into one entry per peer,
// in a stable order.
func planRules(groups []Group) ([]plannedRule, error) {
	names := map[string]bool{}
	for i, group := range groups {
		// AWS takes security group names of up to 255 characters.
		if !groupName.MatchString(group.Name) || len(group.Name) > 255 {
			return nil, fmt.Errorf("Groups[%d].Name %q is invalid; use at most 255 lower-case letters, digits and hyphens", i, group.Name)
		}
		if names[group.Name] {
			return nil, fmt.Errorf("Groups[%d].Name %q is used twice; give each group its own name", i, group.Name)
		}
		names[group.Name] = true
	}

	var planned []plannedRule
	seen := map[string]bool{}
	for _, group := range groups {
		for _, set := range []struct {
			direction string
			rules     []Rule
		}{{"ingress", group.Ingress}, {"egress", group.Egress}} {
			for i, rule := range set.rules {
				direction := set.direction
				field := fmt.Sprintf("group %q %s[%d]", group.Name, direction, i)
				split, err := splitRule(field, group.Name, direction, rule, names)
				if err != nil {
					return nil, err
				}
				for _, r := range split {
					if seen[r.key()] {
						return nil, fmt.Errorf("%s repeats %s %s to %s; remove the duplicate", field, protocolName(r.protocol), portRange(r), peerOf(r))
					}
					seen[r.key()] = true
					planned = append(planned, r)
				}
			}
		}
	}
	sort.Slice(planned, func(i, j int) bool { return planned[i].key() < planned[j].key() })
	return planned, nil
}

func peerOf(r plannedRule) string {
	if r.peerGroup != "" {
		return "group " + r.peerGroup
	}
	return r.cidr
}

func splitRule(field, group, direction string, rule Rule, groups map[string]bool) ([]plannedRule, error) {
	protocol, err := checkProtocol(field, rule)
	if err != nil {
		return nil, err
	}
	if len(rule.CIDRs) == 0 && rule.SourceGroup == "" {
		return nil, fmt.Errorf("%s has no peer; set CIDRs, SourceGroup or both", field)
	}
	if rule.SourceGroup != "" && !groups[rule.SourceGroup] {
		return nil, fmt.Errorf("%s SourceGroup %q is not one of the groups given; add the group or fix the name", field, rule.SourceGroup)
	}

	base := plannedRule{group: group, direction: direction, protocol: protocol, fromPort: rule.FromPort, toPort: rule.ToPort, desc: rule.Description}
	if portless(protocol) {
		base.fromPort, base.toPort = 0, 0
	}
	var out []plannedRule
	for j, cidr := range rule.CIDRs {
		block, err := addressplan.ParseBlock(fmt.Sprintf("%s CIDRs[%d]", field, j), cidr)
		if err != nil {
			return nil, err
		}
		if (protocol == ProtocolICMP && !block.Addr().Is4()) || (protocol == ProtocolICMPv6 && !block.Addr().Is6()) {
			return nil, fmt.Errorf("%s CIDRs[%d] %s does not match protocol %s; use icmp with IPv4 and icmpv6 with IPv6", field, j, cidr, protocol)
		}
		r := base
		r.cidr = block.String()
		out = append(out, r)
	}
	if rule.SourceGroup != "" {
		r := base
		r.peerGroup = rule.SourceGroup
		out = append(out, r)
	}
	return out, nil
}

func checkProtocol(field string, rule Rule) (string, error) {
	protocol := strings.ToLower(rule.Protocol)
	switch protocol {
	case ProtocolTCP, ProtocolUDP:
		if rule.FromPort < 0 || rule.ToPort > 65535 || rule.FromPort > rule.ToPort {
			return "", fmt.Errorf("%s port range %d-%d is invalid; use 0 to 65535 with FromPort no greater than ToPort", field, rule.FromPort, rule.ToPort)
		}
	case ProtocolICMP, ProtocolICMPv6:
		if rule.FromPort < -1 || rule.FromPort > 255 || rule.ToPort < -1 || rule.ToPort > 255 {
			return "", fmt.Errorf("%s ICMP type %d and code %d are invalid; use -1 (any) to 255", field, rule.FromPort, rule.ToPort)
		}
	case AllProtocols, "all":
		protocol = AllProtocols
	case "sctp":
		return "", fmt.Errorf("%s protocol sctp cannot be limited to ports in an AWS security group, because AWS applies port ranges to tcp, udp, icmp and icmpv6 only; "+
			"allow every SCTP port with protocol 132 and ports 0, or carry the flow over tcp", field)
	default:
		number, err := strconv.Atoi(protocol)
		if err != nil || number < 0 || number > 255 {
			return "", fmt.Errorf("%s protocol %q is not supported; use tcp, udp, icmp, icmpv6, -1 for all, or an IP protocol number from 0 to 255", field, rule.Protocol)
		}
		if named, ok := protocolNames[number]; ok {
			return checkProtocol(field, Rule{Protocol: named, FromPort: rule.FromPort, ToPort: rule.ToPort})
		}
		if rule.FromPort != 0 || rule.ToPort != 0 {
			return "", fmt.Errorf("%s protocol %d cannot be limited to ports %d-%d, because AWS applies port ranges to tcp, udp, icmp and icmpv6 only; set both ports to 0 to allow the whole protocol", field, number, rule.FromPort, rule.ToPort)
		}
		protocol = strconv.Itoa(number)
	}
	return protocol, nil
}

// protocolNames are the IP protocol numbers AWS also accepts by name, so a
// rule given by number is named the same way as one given by name.
var protocolNames = map[int]string{1: ProtocolICMP, 6: ProtocolTCP, 17: ProtocolUDP, 58: ProtocolICMPv6}

// portless reports whether AWS ignores port ranges for protocol: every
// protocol (-1) and any protocol number other than tcp, udp, icmp and icmpv6.
func portless(protocol string) bool {
	switch protocol {
	case ProtocolTCP, ProtocolUDP, ProtocolICMP, ProtocolICMPv6:
		return false
	}
	return true
}

func declareRule(ctx *pulumi.Context, name string, rule plannedRule, groupIDs map[string]pulumi.IDOutput, tags map[string]string, parent pulumi.ResourceOption) error {
	resourceName := name + "-" + rule.key()
	var cidrV4, cidrV6, peer pulumi.StringPtrInput
	switch {
	case rule.peerGroup != "":
		peer = groupIDs[rule.peerGroup].ToStringOutput().ToStringPtrOutput()
	case strings.Contains(rule.cidr, ":"):
		cidrV6 = pulumi.String(rule.cidr)
	default:
		cidrV4 = pulumi.String(rule.cidr)
	}
	var fromPort, toPort pulumi.IntPtrInput
	if !portless(rule.protocol) {
		fromPort = pulumi.Int(rule.fromPort)
		toPort = pulumi.Int(rule.toPort)
	}
	var description pulumi.StringPtrInput
	if rule.desc != "" {
		description = pulumi.String(rule.desc)
	}
	ruleTags := pulumi.ToStringMap(addressplan.MergeTags(tags, map[string]string{"Name": resourceName, GroupTag: rule.group}))
	groupID := groupIDs[rule.group].ToStringOutput()

	if rule.direction == "ingress" {
		_, err := vpc.NewSecurityGroupIngressRule(ctx, resourceName, &vpc.SecurityGroupIngressRuleArgs{
			SecurityGroupId:           groupID,
			IpProtocol:                pulumi.String(rule.protocol),
			FromPort:                  fromPort,
			ToPort:                    toPort,
			CidrIpv4:                  cidrV4,
			CidrIpv6:                  cidrV6,
			ReferencedSecurityGroupId: peer,
			Description:               description,
			Tags:                      ruleTags,
		}, parent)
		return err
	}
	_, err := vpc.NewSecurityGroupEgressRule(ctx, resourceName, &vpc.SecurityGroupEgressRuleArgs{
		SecurityGroupId:           groupID,
		IpProtocol:                pulumi.String(rule.protocol),
		FromPort:                  fromPort,
		ToPort:                    toPort,
		CidrIpv4:                  cidrV4,
		CidrIpv6:                  cidrV6,
		ReferencedSecurityGroupId: peer,
		Description:               description,
		Tags:                      ruleTags,
	}, parent)
	return err
}
