// Package printers writes command output in the formats kubectl uses:
// an aligned table, JSON or YAML.
package printers

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// Formats are the values -o accepts.
var Formats = []string{"table", "wide", "json", "yaml"}

// Table is rows of cells under a header. Columns with Wide set are shown
// only with -o wide, as kubectl does.
type Table struct {
	Columns []Column
	Rows    [][]string
}

// Column is one table column.
type Column struct {
	Name string
	Wide bool
}

// ValidateFormat returns an error naming the accepted values when format is
// not one of them.
func ValidateFormat(format string) error {
	for _, f := range Formats {
		if f == format {
			return nil
		}
	}
	return fmt.Errorf("invalid output format %q: use one of %s", format, strings.Join(Formats, ", "))
}

// Print writes the table for "table" and "wide", and data as JSON or YAML
// otherwise.
func Print(w io.Writer, format string, t Table, data any) error {
	switch format {
	case "table", "":
		return t.write(w, false)
	case "wide":
		return t.write(w, true)
	case "json":
		out, err := json.MarshalIndent(data, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", out)
		return err
	case "yaml":
		out, err := yaml.Marshal(data)
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	}
	return ValidateFormat(format)
}

func (t Table) write(w io.Writer, wide bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	var header []string
	for _, c := range t.Columns {
		if wide || !c.Wide {
			header = append(header, strings.ToUpper(c.Name))
		}
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range t.Rows {
		var cells []string
		for i, c := range t.Columns {
			if !wide && c.Wide {
				continue
			}
			cell := ""
			if i < len(row) {
				cell = row[i]
			}
			if cell == "" {
				cell = "<none>"
			}
			cells = append(cells, cell)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
