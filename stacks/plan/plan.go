// Package plan runs a Pulumi program under the SDK's mocks and records the
// resources it declares, so that a stack's resource graph can be inspected
// with no cloud credentials, no Pulumi CLI and no network.
package plan

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"sigs.k8s.io/yaml"
)

// Resource is one resource the program declared.
type Resource struct {
	// Type is the Pulumi type token, for example "aws:ec2/vpc:Vpc".
	Type string `json:"type"`
	// Name is the resource's logical name.
	Name string `json:"name"`
	// Parent is the logical name of the parent component; empty for a
	// resource at the top of the stack.
	Parent string `json:"parent,omitempty"`
	// Custom is true for a resource a provider manages and false for a component.
	Custom bool `json:"custom"`
	// Properties are the resource's inputs flattened to strings, keyed by
	// path: "cidrBlock", "tags.Name", "spec.ports[0].port". A property that
	// refers to another resource's ID contains that resource's logical
	// name, because Run gives every resource its name as its ID.
	Properties map[string]string `json:"properties,omitempty"`
	// DependsOn lists the logical names of the resources this one waits
	// for, sorted.
	DependsOn []string `json:"dependsOn,omitempty"`
}

// computedOutputs are outputs that a provider computes and other resources
// refer to. Under mocks Run sets each to "<name>.<output>", so that a
// reference to it stays readable in the plan.
var computedOutputs = map[string][]string{
	"aws:ec2/vpnConnection:VpnConnection": {"transitGatewayAttachmentId"},
	"aws:ec2/vpc:Vpc":                     {"mainRouteTableId", "defaultSecurityGroupId"},
}

// Run runs program under mocks as stack stack of project project and returns
// the resources it declared, sorted by type and then name. It fails when the
// program returns an error or a resource cannot be registered.
func Run(project, stack string, program pulumi.RunFunc) ([]Resource, error) {
	recorder := &recorder{}
	if err := pulumi.RunErr(program, pulumi.WithMocks(project, stack, recorder)); err != nil {
		return nil, err
	}
	return recorder.sorted(), nil
}

// recorder implements pulumi.MockResourceMonitor. The SDK registers
// resources from several goroutines, so it locks.
type recorder struct {
	mu        sync.Mutex
	resources []Resource
}

func (r *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	recorded := Resource{
		Type:       args.TypeToken,
		Name:       args.Name,
		Custom:     args.Custom,
		Properties: map[string]string{},
	}
	if rpc := args.RegisterRPC; rpc != nil {
		recorded.Parent = nameOf(rpc.GetParent())
		for _, dependency := range rpc.GetDependencies() {
			recorded.DependsOn = append(recorded.DependsOn, nameOf(dependency))
		}
		sort.Strings(recorded.DependsOn)
	}
	for key, value := range args.Inputs {
		flatten(recorded.Properties, string(key), value)
	}

	state := args.Inputs.Copy()
	for _, output := range computedOutputs[args.TypeToken] {
		state[resource.PropertyKey(output)] = resource.NewProperty(args.Name + "." + output)
	}

	r.mu.Lock()
	r.resources = append(r.resources, recorded)
	r.mu.Unlock()
	return args.Name, state, nil
}

func (r *recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("plan: the program called function %s, which has no mock; plans cover resources only", args.Token)
}

func (r *recorder) sorted() []Resource {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]Resource(nil), r.resources...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// nameOf returns the logical name in a URN, or "" for the root stack, whose
// children are at the top of the plan.
func nameOf(urn string) string {
	if urn == "" || strings.Contains(urn, "::pulumi:pulumi:Stack::") {
		return ""
	}
	return resource.URN(urn).Name()
}

// flatten writes value under key, and the elements of objects and arrays
// under dotted and indexed keys.
func flatten(into map[string]string, key string, value resource.PropertyValue) {
	switch {
	case value.IsNull():
		return
	case value.IsObject():
		for k, v := range value.ObjectValue() {
			flatten(into, key+"."+string(k), v)
		}
	case value.IsArray():
		for i, v := range value.ArrayValue() {
			flatten(into, key+"["+strconv.Itoa(i)+"]", v)
		}
	case value.IsString():
		into[key] = value.StringValue()
	case value.IsNumber():
		into[key] = strconv.FormatFloat(value.NumberValue(), 'f', -1, 64)
	case value.IsBool():
		into[key] = strconv.FormatBool(value.BoolValue())
	case value.IsSecret():
		into[key] = "[secret]"
	case value.IsOutput():
		output := value.OutputValue()
		if !output.Known {
			into[key] = "[unknown]"
			return
		}
		flatten(into, key, output.Element)
	case value.IsResourceReference():
		reference := value.ResourceReferenceValue()
		into[key] = nameOf(string(reference.URN))
	case value.IsComputed():
		into[key] = "[unknown]"
	default:
		into[key] = value.String()
	}
}

// OfType returns the resources of one type token, in their order in resources.
func OfType(resources []Resource, typeToken string) []Resource {
	var out []Resource
	for _, r := range resources {
		if r.Type == typeToken {
			out = append(out, r)
		}
	}
	return out
}

// ReadStackConfig decodes the value of key, such as "site-aws:site", from the
// config section of a Pulumi stack file (Pulumi.<stack>.yaml) into into,
// through its JSON form. It reads plain values only: a secure value stays
// encrypted and fails to decode into a typed field.
func ReadStackConfig(path, key string, into any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var file struct {
		Config map[string]json.RawMessage `json:"config"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return fmt.Errorf("parsing stack file %s: %w", path, err)
	}
	value, ok := file.Config[key]
	if !ok {
		return fmt.Errorf("stack file %s has no config key %s", path, key)
	}
	if err := json.Unmarshal(value, into); err != nil {
		return fmt.Errorf("decoding %s from stack file %s: %w", key, path, err)
	}
	return nil
}
