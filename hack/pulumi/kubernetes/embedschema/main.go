// Command embedschema writes the two JSON files that the Kubernetes provider
// embeds, from the schema.json and terraform-mapping.json shipped in the
// provider module's cmd/pulumi-resource-kubernetes directory. It does what
// that directory's generate.go does: it sets the schema's version and
// compacts both files.
//
// Usage: embedschema -from DIR -to DIR -version SEMVER
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	from := flag.String("from", "", "directory containing schema.json and terraform-mapping.json")
	to := flag.String("to", ".", "directory to write schema-embed.json and terraform-mapping-embed.json into")
	version := flag.String("version", "", "provider version to record in the schema, without a leading v (for example 4.25.0)")
	flag.Parse()

	if err := run(*from, *to, *version); err != nil {
		fmt.Fprintln(os.Stderr, "embedschema:", err)
		os.Exit(1)
	}
}

func run(from, to, version string) error {
	if from == "" {
		return fmt.Errorf("missing -from; pass the provider module's cmd/pulumi-resource-kubernetes directory")
	}
	if version == "" {
		return fmt.Errorf("missing -version; pass the version the provider reports, for example 4.25.0")
	}

	schema, err := readJSON(filepath.Join(from, "schema.json"))
	if err != nil {
		return err
	}
	schema["version"] = version
	if err := writeJSON(filepath.Join(to, "schema-embed.json"), schema); err != nil {
		return err
	}

	mapping, err := readJSON(filepath.Join(from, "terraform-mapping.json"))
	if err != nil {
		return err
	}
	return writeJSON(filepath.Join(to, "terraform-mapping-embed.json"), mapping)
}

func readJSON(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// UseNumber keeps numbers exactly as written instead of converting them to float64.
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.UseNumber()
	var document map[string]any
	if err := decoder.Decode(&document); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return document, nil
}

func writeJSON(path string, document map[string]any) error {
	data, err := json.Marshal(document)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return os.WriteFile(path, data, 0o644)
}
