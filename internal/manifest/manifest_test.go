package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

const namespaceYAML = `apiVersion: v1
kind: Namespace
metadata:
  name: border-force
`

const siteYAML = `apiVersion: estate.homeoffice.gov.uk/v1alpha1
kind: HostingSite
metadata:
  name: aws-london
spec:
  tier: PublicCloud
  provider: aws
  region: eu-west-2
  jurisdiction: GB
  accreditation: OFFICIAL-SENSITIVE
  capabilities: [hsm, gpu]
  capacity:
    cpu: "64"
    memory: 256Gi
    workloads: 20
`

const networkYAML = `apiVersion: estate.homeoffice.gov.uk/v1alpha1
kind: Network
metadata:
  name: department
spec:
  addressSpaces: ["10.64.0.0/10"]
  zones:
  - name: frontend
    trustLevel: Low
  - name: restricted-data
    trustLevel: Restricted
`

const workloadYAML = `apiVersion: estate.homeoffice.gov.uk/v1alpha1
kind: Workload
metadata:
  name: warnings-index
  namespace: border-force
spec:
  owner:
    businessArea: border-force
  businessCapability: Identify
  classification: OFFICIAL-SENSITIVE
  resources:
    cpu: 4
    memory: 8Gi
  zone: restricted-data
  flows:
  - name: to-frontend
    to:
      zone: frontend
    ports:
    - port: 443
`

// writeFiles writes files, keyed by slash-separated path, under a new
// temporary directory and returns the directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// problems runs Load and, when it succeeds, Decode, and returns the problems
// of whichever failed. It fails the test when neither did.
func problems(t *testing.T, dir string) ErrorList {
	t.Helper()
	objs, err := Load(dir)
	if err == nil {
		_, err = Decode(objs)
	}
	if err == nil {
		t.Fatal("Load and Decode returned no error, want one")
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, want ErrorList: %v", err, err)
	}
	return list
}

// findProblem returns the first problem whose Detail contains detail.
func findProblem(t *testing.T, list ErrorList, detail string) *Error {
	t.Helper()
	for _, e := range list {
		if strings.Contains(e.Detail, detail) {
			return e
		}
	}
	t.Fatalf("no problem with detail containing %q; got:\n%v", detail, list)
	return nil
}

// lineOf returns the 1-based line of the first occurrence of text in content.
func lineOf(content, text string) int {
	i := strings.Index(content, text)
	if i < 0 {
		return -1
	}
	return strings.Count(content[:i], "\n") + 1
}

// replace returns base with old replaced by new, failing the test when old
// does not occur, so a fixture edit cannot silently do nothing.
func replace(t *testing.T, base, old, new string) string {
	t.Helper()
	if !strings.Contains(base, old) {
		t.Fatalf("fixture does not contain %q", old)
	}
	return strings.Replace(base, old, new, 1)
}

func TestDecodeValidSet(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"namespaces.yaml":       namespaceYAML,
		"network.yaml":          networkYAML,
		"sites/aws-london.yaml": siteYAML,
		"workloads/border.yaml": workloadYAML,
		".git/config.yaml":      "not: [a manifest",
		"workloads/README.md":   "# not a manifest",
		"workloads/.draft.yaml": "not: [a manifest",
	})

	objs, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	set, err := Decode(objs)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}

	if len(set.Sites) != 1 {
		t.Fatalf("got %d sites, want 1", len(set.Sites))
	}
	if got := set.Sites[0].Spec.CostWeight; got != 50 {
		t.Errorf("site costWeight = %d, want the schema default 50", got)
	}
	if got := set.Sites[0].Spec.Capacity.Memory; got.Cmp(resource.MustParse("256Gi")) != 0 {
		t.Errorf("site memory = %s, want 256Gi", got.String())
	}

	if len(set.Workloads) != 1 {
		t.Fatalf("got %d workloads, want 1", len(set.Workloads))
	}
	workload := set.Workloads[0]
	if workload.Spec.Exposure != estatev1.ExposureInternal {
		t.Errorf("workload exposure = %q, want the schema default %q", workload.Spec.Exposure, estatev1.ExposureInternal)
	}
	if got := workload.Spec.Flows[0].Ports[0].Protocol; got != "TCP" {
		t.Errorf("flow port protocol = %q, want the schema default TCP", got)
	}
	if got := workload.Spec.Resources.CPU; got.Cmp(resource.MustParse("4")) != 0 {
		t.Errorf("workload cpu = %s, want 4 from the YAML integer", got.String())
	}
	if workload.Namespace != "border-force" {
		t.Errorf("workload namespace = %q, want border-force", workload.Namespace)
	}

	if len(set.Networks) != 1 || set.Networks[0].Spec.Zones[1].TrustLevel != estatev1.TrustRestricted {
		t.Errorf("networks = %+v, want one with zone restricted-data at trust level Restricted", set.Networks)
	}
	if len(set.Namespaces) != 1 || set.Namespaces[0].Name != "border-force" {
		t.Errorf("namespaces = %+v, want border-force", set.Namespaces)
	}

	var order []string
	for _, obj := range set.Objects {
		order = append(order, obj.Object.GetKind()+" "+obj.Object.GetName())
	}
	wantOrder := []string{"Namespace border-force", "Network department", "HostingSite aws-london", "Workload warnings-index"}
	if diff := cmp.Diff(wantOrder, order); diff != "" {
		t.Errorf("apply order (-want +got):\n%s", diff)
	}

	last := set.Objects[len(set.Objects)-1]
	if want := filepath.Join(dir, "workloads", "border.yaml"); last.Source != want {
		t.Errorf("workload source = %q, want %q", last.Source, want)
	}
	if _, found, _ := unstructured.NestedString(last.Object.Object, "spec", "exposure"); found {
		t.Error("Objects holds a defaulted spec.exposure, want the object as loaded")
	}
}

func TestLoadSingleFileAndDocuments(t *testing.T) {
	content := "---\n# leading comment\n---\n" + siteYAML + "---\n\n---\n" + networkYAML + "--- # trailing\n"
	dir := writeFiles(t, map[string]string{"estate.txt": content})
	file := filepath.Join(dir, "estate.txt")

	objs, err := Load(file)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var got []string
	for _, obj := range objs {
		got = append(got, obj.Source+" "+obj.Object.GetName())
	}
	want := []string{file + "#1 aws-london", file + "#2 department"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
	if want := lineOf(content, "kind: Network"); objs[1].Line != want-1 {
		t.Errorf("network document starts at line %d, want %d", objs[1].Line, want-1)
	}
}

func TestLoadJSONStream(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"site.json": `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}`,
	})
	objs, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(objs) != 2 {
		t.Fatalf("got %d objects, want 2", len(objs))
	}
	if want := filepath.Join(dir, "site.json") + "#2"; objs[1].Source != want {
		t.Errorf("source = %q, want %q", objs[1].Source, want)
	}
	if objs[1].Line != 2 {
		t.Errorf("line = %d, want 2", objs[1].Line)
	}
}

func TestLoadRejectsEmptyDirectory(t *testing.T) {
	dir := writeFiles(t, map[string]string{"notes.txt": "nothing"})
	_, err := Load(dir)
	if err == nil {
		t.Fatal("Load of a directory without manifests returned no error")
	}
	if !strings.Contains(err.Error(), "no *.yaml, *.yml or *.json files") {
		t.Errorf("error = %q, want it to say no manifest files were found", err)
	}
}

func TestDecodeDoesNotChangeInput(t *testing.T) {
	dir := writeFiles(t, map[string]string{"w.yaml": namespaceYAML + "---\n" + workloadYAML})
	objs, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	before := objs[1].Object.DeepCopy()
	if _, err := Decode(objs); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if diff := cmp.Diff(before.Object, objs[1].Object.Object); diff != "" {
		t.Errorf("Decode changed its input (-before +after):\n%s", diff)
	}
}

func TestErrorFormat(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"workloads/border.yaml": namespaceYAML + "---\n" + replace(t, workloadYAML, "OFFICIAL-SENSITIVE", "TOP-SECRET"),
	})
	list := problems(t, dir)

	want := filepath.Join(dir, "workloads", "border.yaml") + `#2: Workload border-force/warnings-index: spec.classification: ` +
		`Unsupported value: "TOP-SECRET": supported values: "OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET"`
	if got := list[0].Error(); got != want {
		t.Errorf("first error:\n got %s\nwant %s", got, want)
	}
	if lines := strings.Split(list.Error(), "\n"); len(lines) != len(list) {
		t.Errorf("ErrorList.Error() has %d lines for %d problems", len(lines), len(list))
	}
}

func TestProblems(t *testing.T) {
	badNetwork := siteYAML + "---\n" + replace(t, networkYAML, "  - name: frontend\n", "  - name: frontend\n   trustLevel: Low\n")
	threeDocuments := siteYAML + "---\n" + networkYAML + "---\n" + replace(t, workloadYAML, "cpu: 4", "cpu: -1")
	duplicateKey := replace(t, networkYAML, "  name: department\n", "  name: department\n  name: network\n")

	cases := []struct {
		name   string
		files  map[string]string
		detail string // a substring that picks the problem out of the list
		source string // relative to the temporary directory
		line   int    // 0 to skip the check
		object string
		field  string
	}{
		{
			name:   "unknown classification names the supported values",
			files:  map[string]string{"w.yaml": replace(t, workloadYAML, "OFFICIAL-SENSITIVE", "TOP-SECRET")},
			detail: `Unsupported value: "TOP-SECRET": supported values: "OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET"`,
			source: "w.yaml",
			object: "Workload border-force/warnings-index",
			field:  "spec.classification",
		},
		{
			name:   "unknown capability is rejected",
			files:  map[string]string{"s.yaml": replace(t, siteYAML, "[hsm, gpu]", "[hsm, quantum]")},
			detail: `Unsupported value: "quantum"`,
			source: "s.yaml",
			object: "HostingSite aws-london",
			field:  "spec.capabilities[1]",
		},
		{
			name:   "misspelt field is reported with the likely name",
			files:  map[string]string{"w.yaml": replace(t, workloadYAML, "classification:", "clasification:")},
			detail: `Unknown field: the Workload schema has no such field; did you mean "classification"?`,
			source: "w.yaml",
			object: "Workload border-force/warnings-index",
			field:  "spec.clasification",
		},
		{
			name:   "unknown metadata field is reported",
			files:  map[string]string{"n.yaml": replace(t, networkYAML, "  name: department\n", "  name: department\n  lables: {a: b}\n")},
			detail: "Unknown field: ObjectMeta has no such field",
			source: "n.yaml",
			object: "Network department",
			field:  "metadata.lables",
		},
		{
			name:   "missing required field is reported",
			files:  map[string]string{"w.yaml": replace(t, workloadYAML, "  zone: restricted-data\n", "")},
			detail: "Required value",
			source: "w.yaml",
			object: "Workload border-force/warnings-index",
			field:  "spec.zone",
		},
		{
			name:   "SECRET workload exposed to the internet fails its CEL rule",
			files:  map[string]string{"w.yaml": replace(t, workloadYAML, "classification: OFFICIAL-SENSITIVE", "classification: SECRET\n  exposure: Internet")},
			detail: "Forbidden: a SECRET workload cannot be exposed to the internet; set exposure to PSN or Internal",
			source: "w.yaml",
			object: "Workload border-force/warnings-index",
			field:  "spec.exposure",
		},
		{
			name:   "zero site CPU is not positive",
			files:  map[string]string{"s.yaml": replace(t, siteYAML, `cpu: "64"`, `cpu: "0"`)},
			detail: `must be positive, for example "64"`,
			source: "s.yaml",
			object: "HostingSite aws-london",
			field:  "spec.capacity.cpu",
		},
		{
			name:   "mainframe on public cloud fails the rule at its fieldPath",
			files:  map[string]string{"s.yaml": replace(t, siteYAML, "[hsm, gpu]", "[hsm, mainframe]")},
			detail: "a PublicCloud site cannot offer mainframe",
			source: "s.yaml",
			object: "HostingSite aws-london",
			field:  "spec.capabilities",
		},
		{
			name:   "flow peer with both workload and zone is rejected",
			files:  map[string]string{"w.yaml": replace(t, workloadYAML, "      zone: frontend\n", "      zone: frontend\n      workload: case-index\n")},
			detail: "set exactly one of workload, zone or external",
			source: "w.yaml",
			object: "Workload border-force/warnings-index",
			field:  "spec.flows[0].to",
		},
		{
			name:   "address space with host bits set is rejected",
			files:  map[string]string{"n.yaml": replace(t, networkYAML, "10.64.0.0/10", "10.64.1.0/10")},
			detail: "has host bits set",
			source: "n.yaml",
			object: "Network department",
			field:  "spec.addressSpaces[0]",
		},
		{
			name:   "site cost weight below the minimum is rejected",
			files:  map[string]string{"s.yaml": replace(t, siteYAML, "  capacity:", "  costWeight: 0\n  capacity:")},
			detail: "should be greater than or equal to 1",
			source: "s.yaml",
			object: "HostingSite aws-london",
			field:  "spec.costWeight",
		},
		{
			name:   "duplicate capability in a set is rejected",
			files:  map[string]string{"s.yaml": replace(t, siteYAML, "[hsm, gpu]", "[hsm, hsm]")},
			detail: `Duplicate value: "hsm"`,
			source: "s.yaml",
			object: "HostingSite aws-london",
			field:  "spec.capabilities[1]",
		},
		{
			name: "exception expiry that is not a date is rejected",
			files: map[string]string{"w.yaml": replace(t, workloadYAML, "  resources:", `  hosting:
    cloudFirstException:
      justification: the mainframe contract runs until 2027
      approver: chief technology officer
      expires: 2026-13-45
  resources:`)},
			detail: "must be of type date",
			source: "w.yaml",
			object: "Workload border-force/warnings-index",
			field:  "spec.hosting.cloudFirstException.expires",
		},
		{
			name:   "workload without a namespace is rejected",
			files:  map[string]string{"w.yaml": replace(t, workloadYAML, "  namespace: border-force\n", "")},
			detail: `Required value: Workload is namespaced; set metadata.namespace`,
			source: "w.yaml",
			object: "Workload warnings-index",
			field:  "metadata.namespace",
		},
		{
			name:   "cluster-scoped site with a namespace is rejected",
			files:  map[string]string{"s.yaml": replace(t, siteYAML, "  name: aws-london\n", "  name: aws-london\n  namespace: default\n")},
			detail: "Forbidden: HostingSite is cluster-scoped; remove metadata.namespace",
			source: "s.yaml",
			object: "HostingSite default/aws-london",
			field:  "metadata.namespace",
		},
		{
			name:   "name that is not a DNS subdomain is rejected",
			files:  map[string]string{"s.yaml": replace(t, siteYAML, "name: aws-london", "name: AWS_London")},
			detail: `Invalid value: "AWS_London"`,
			source: "s.yaml",
			object: "HostingSite AWS_London",
			field:  "metadata.name",
		},
		{
			name:   "duplicate object names both sources",
			files:  map[string]string{"a.yaml": siteYAML, "b.yaml": siteYAML},
			detail: "is also declared in ",
			source: "b.yaml",
			object: "HostingSite aws-london",
			field:  "",
		},
		{
			name:   "unsupported kind names the supported kinds",
			files:  map[string]string{"c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: border-force\n"},
			detail: `Unsupported value: "ConfigMap" (apiVersion "v1"): supported kinds are Namespace (v1), Enclave, HostingSite, Network, Workload (estate.homeoffice.gov.uk/v1alpha1)`,
			source: "c.yaml",
			object: "ConfigMap border-force/settings",
			field:  "kind",
		},
		{
			name:   "unserved version names the served one",
			files:  map[string]string{"s.yaml": replace(t, siteYAML, "/v1alpha1", "/v1beta1")},
			detail: `Unsupported value: "estate.homeoffice.gov.uk/v1beta1": supported values: "estate.homeoffice.gov.uk/v1alpha1"`,
			source: "s.yaml",
			object: "HostingSite aws-london",
			field:  "apiVersion",
		},
		{
			name:   "namespace with an unknown field is rejected",
			files:  map[string]string{"ns.yaml": namespaceYAML + "spec:\n  finalisers: [kubernetes]\n"},
			detail: "Unknown field: Namespace has no such field",
			source: "ns.yaml",
			object: "Namespace border-force",
			field:  "spec.finalisers",
		},
		{
			name:   "multi-document file reports the document number",
			files:  map[string]string{"estate.yaml": threeDocuments},
			detail: `must be positive, for example "500m"`,
			source: "estate.yaml#3",
			line:   lineOf(threeDocuments, "kind: Workload") - 1,
			object: "Workload border-force/warnings-index",
			field:  "spec.resources.cpu",
		},
		{
			name:  "malformed YAML names the file and line",
			files: map[string]string{"estate.yaml": badNetwork},
			// go-yaml names the line of the block mapping that the bad
			// indentation breaks.
			detail: fmt.Sprintf("invalid YAML: line %d:", lineOf(badNetwork, "  - name: frontend")),
			source: "estate.yaml#2",
			line:   lineOf(badNetwork, "  - name: frontend"),
		},
		{
			name:   "duplicate YAML key names the line",
			files:  map[string]string{"n.yaml": duplicateKey},
			detail: fmt.Sprintf(`line %d: key "name" already set in map`, lineOf(duplicateKey, "name: network")),
			source: "n.yaml",
			line:   lineOf(duplicateKey, "name: network"),
		},
		{
			name:   "duplicate JSON field is rejected",
			files:  map[string]string{"ns.json": `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "name": "b"}}`},
			detail: "Duplicate field",
			source: "ns.json",
			field:  "metadata.name",
		},
		{
			name:   "malformed JSON names the file and line",
			files:  map[string]string{"ns.json": "{\"apiVersion\": \"v1\",\n \"kind\": \"Namespace\",\n}\n"},
			detail: "invalid JSON: line 3:",
			source: "ns.json",
			line:   3,
		},
		{
			name:   "document without kind is rejected",
			files:  map[string]string{"s.yaml": replace(t, siteYAML, "kind: HostingSite\n", "")},
			detail: `Required value: set kind`,
			source: "s.yaml",
			object: "object aws-london",
			field:  "kind",
		},
		{
			name:   "document that is a list is rejected",
			files:  map[string]string{"l.yaml": "- a\n- b\n"},
			detail: "it is a list, but a manifest must be an object",
			source: "l.yaml",
		},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			got := findProblem(t, problems(t, dir), tc.detail)

			wantSource := filepath.Join(dir, filepath.FromSlash(tc.source))
			if got.Source != wantSource {
				t.Errorf("source = %q, want %q", got.Source, wantSource)
			}
			if got.Field != tc.field {
				t.Errorf("field = %q, want %q", got.Field, tc.field)
			}
			if tc.object != "" && got.Object() != tc.object {
				t.Errorf("object = %q, want %q", got.Object(), tc.object)
			}
			if tc.line != 0 && got.Line != tc.line {
				t.Errorf("line = %d, want %d", got.Line, tc.line)
			}
		})
	}
}

func TestDuplicateNamesFirstSource(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.yaml": siteYAML, "b.yaml": siteYAML})
	got := findProblem(t, problems(t, dir), "is also declared in")

	if first := filepath.Join(dir, "a.yaml"); !strings.Contains(got.Detail, first) {
		t.Errorf("detail = %q, want it to name the first source %s", got.Detail, first)
	}
}

func TestErrorsAreCollected(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"s.yaml": replace(t, siteYAML, `cpu: "64"`, `cpu: "0"`),
		"w.yaml": replace(t, workloadYAML, "  namespace: border-force\n", ""),
	})
	list := problems(t, dir)

	var sources []string
	for _, e := range list {
		sources = append(sources, filepath.Base(e.Source)+" "+e.Field)
	}
	// A missing namespace is a Required error, which stops the CEL rules of
	// that object, as on the API server, and the note about it has no field.
	want := []string{"s.yaml spec.capacity.cpu", "w.yaml metadata.namespace", "w.yaml "}
	if diff := cmp.Diff(want, sources); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestCELSkippedAfterBlockingError(t *testing.T) {
	// The enum error blocks the CEL rules, as on the API server, so the
	// SECRET-and-Internet rule must not be reported.
	workload := replace(t, workloadYAML, "classification: OFFICIAL-SENSITIVE", "classification: SECRET\n  exposure: Internet\n  dataHandled: [Gossip]")
	list := problems(t, writeFiles(t, map[string]string{"w.yaml": workload}))

	findProblem(t, list, `Unsupported value: "Gossip"`)
	findProblem(t, list, "x-kubernetes-validations rules were not checked")
	for _, e := range list {
		if e.Field == "spec.exposure" {
			t.Errorf("CEL rule ran despite a blocking error: %v", e)
		}
	}
}
