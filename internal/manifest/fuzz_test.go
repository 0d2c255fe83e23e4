package manifest

import (
	"errors"
	"testing"
)

func FuzzDecode(f *testing.F) {
	f.Add([]byte(namespaceYAML + "---\n" + siteYAML + "---\n" + networkYAML + "---\n" + workloadYAML))
	f.Add([]byte(workloadYAML + "  exposure: Internet\n  dataHandled: [Personal, Personal]\n"))
	f.Add([]byte(`{"apiVersion": "estate.homeoffice.gov.uk/v1alpha1", "kind": "Network", "metadata": {"name": "n"}, "spec": {"addressSpaces": ["::1/0"], "zones": [{"name": "a", "trustLevel": "Low"}, {"name": "a"}]}}`))
	f.Add([]byte("apiVersion: estate.homeoffice.gov.uk/v1alpha1\nkind: HostingSite\nmetadata: {name: s}\nspec: {capacity: {cpu: 1e400, memory: null}, costWeight: 1.5}\nstatus: 3\n"))
	f.Add([]byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: n, labels: x}\n"))
	f.Add([]byte("---\n- a\n---\n{a: [b\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		objs, _ := parseFile("fuzz.yaml", data)
		set, err := Decode(objs)

		if err == nil {
			if set == nil {
				t.Fatal("Decode returned neither a Set nor an error")
			}
			if len(set.Objects) != len(objs) {
				t.Fatalf("Decode accepted every object but Set.Objects has %d of %d", len(set.Objects), len(objs))
			}
			return
		}
		var list ErrorList
		if !errors.As(err, &list) {
			t.Fatalf("error is %T, want ErrorList: %v", err, err)
		}
		for _, e := range list {
			if e.Source == "" || e.Detail == "" {
				t.Fatalf("problem without source or detail: %#v", e)
			}
		}
	})
}
