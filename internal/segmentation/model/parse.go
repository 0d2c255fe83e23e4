package model

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ukhomeoffice/estate/internal/segmentation"
)

// ParseRuleset reads the nftables script that segmentation.Ruleset.Render
// writes back into a Ruleset, so that tests can evaluate the text that is
// deployed. It accepts only the subset of nftables syntax Render uses, and
// leaves Ruleset.Site empty because the script does not contain it.
func ParseRuleset(text string) (segmentation.Ruleset, error) {
	var r segmentation.Ruleset
	lines := strings.Split(text, "\n")
	i := 0
	next := func() (string, int) {
		for i < len(lines) {
			line := strings.TrimSpace(lines[i])
			i++
			if line != "" {
				return line, i
			}
		}
		return "", i
	}
	expect := func(want string) error {
		got, n := next()
		if got != want {
			return fmt.Errorf("line %d: expected %q, found %q", n, want, got)
		}
		return nil
	}

	for _, want := range []string{"table inet estate", "delete table inet estate", "table inet estate {"} {
		if err := expect(want); err != nil {
			return r, err
		}
	}
	for {
		line, n := next()
		switch {
		case strings.HasPrefix(line, "set ") && strings.HasSuffix(line, " {"):
			s, err := parseSet(strings.TrimSuffix(strings.TrimPrefix(line, "set "), " {"), next)
			if err != nil {
				return r, err
			}
			r.Sets = append(r.Sets, s)
		case line == "chain forward {":
			if err := expect("type filter hook forward priority filter; policy drop;"); err != nil {
				return r, err
			}
			for {
				line, n := next()
				if line == "}" {
					break
				}
				rule, err := parseRule(line)
				if err != nil {
					return r, fmt.Errorf("line %d: %w", n, err)
				}
				r.Rules = append(r.Rules, rule)
			}
			if err := expect("}"); err != nil {
				return r, err
			}
			if rest, n := next(); rest != "" {
				return r, fmt.Errorf("line %d: unexpected %q after the table", n, rest)
			}
			return r, nil
		default:
			return r, fmt.Errorf("line %d: expected a set or the forward chain, found %q", n, line)
		}
	}
}

func parseSet(name string, next func() (string, int)) (segmentation.AddressSet, error) {
	s := segmentation.AddressSet{Name: name}
	for {
		line, n := next()
		switch {
		case line == "}":
			return s, nil
		case line == "type ipv4_addr":
			s.Family = segmentation.FamilyIPv4
		case line == "type ipv6_addr":
			s.Family = segmentation.FamilyIPv6
		case line == "flags interval":
		case strings.HasPrefix(line, "elements = "):
			prefixes, err := parsePrefixList(strings.TrimPrefix(line, "elements = "))
			if err != nil {
				return s, fmt.Errorf("line %d: set %s: %w", n, name, err)
			}
			s.Elements = prefixes
		default:
			return s, fmt.Errorf("line %d: unexpected %q in set %s", n, line, name)
		}
	}
}

func parseRule(line string) (segmentation.Rule, error) {
	var r segmentation.Rule
	tokens, err := tokenize(line)
	if err != nil {
		return r, err
	}
	for len(tokens) > 0 {
		t := tokens[0]
		switch {
		case t == "accept" || t == "drop":
			r.Verdict = segmentation.Verdict(t)
			tokens = tokens[1:]
		case t == "comment" && len(tokens) > 1:
			comment, err := strconv.Unquote(tokens[1])
			if err != nil {
				return r, fmt.Errorf("invalid comment %s: write it as a double-quoted string", tokens[1])
			}
			r.Comment = comment
			tokens = tokens[2:]
		case t == "meta" && len(tokens) > 2 && tokens[1] == "nfproto":
			r.Family = map[string]segmentation.Family{"ipv4": segmentation.FamilyIPv4, "ipv6": segmentation.FamilyIPv6}[tokens[2]]
			tokens = tokens[3:]
		case t == "meta" && len(tokens) > 2 && tokens[1] == "l4proto":
			r.Protocol = tokens[2]
			tokens = tokens[3:]
		case t == "ct" && len(tokens) > 2 && tokens[1] == "state":
			r.ConnState = strings.Split(tokens[2], ",")
			tokens = tokens[3:]
		case (t == "ip" || t == "ip6") && len(tokens) > 2 && (tokens[1] == "saddr" || tokens[1] == "daddr"):
			r.Family = segmentation.Family(t)
			a, err := parseAddresses(tokens[2])
			if err != nil {
				return r, err
			}
			if tokens[1] == "saddr" {
				r.Source = a
			} else {
				r.Destination = a
			}
			tokens = tokens[3:]
		case (t == "tcp" || t == "udp" || t == "sctp") && len(tokens) > 2 && tokens[1] == "dport":
			r.Protocol = t
			for _, p := range splitList(tokens[2]) {
				n, err := strconv.ParseUint(p, 10, 16)
				if err != nil {
					return r, fmt.Errorf("invalid port %q", p)
				}
				r.Ports = append(r.Ports, int32(n))
			}
			tokens = tokens[3:]
		default:
			return r, fmt.Errorf("unsupported expression at %q", strings.Join(tokens, " "))
		}
	}
	if r.Verdict == "" {
		return r, fmt.Errorf("rule %q has no verdict", line)
	}
	return r, nil
}

// tokenize splits a rule into words, keeping "{ ... }" lists and quoted
// strings as single tokens.
func tokenize(line string) ([]string, error) {
	var tokens []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		switch line[0] {
		case '{':
			end := strings.IndexByte(line, '}')
			if end < 0 {
				return nil, fmt.Errorf("unterminated list in %q", line)
			}
			tokens = append(tokens, line[:end+1])
			line = line[end+1:]
		case '"':
			end := 1
			for end < len(line) && (line[end] != '"' || line[end-1] == '\\') {
				end++
			}
			if end == len(line) {
				return nil, fmt.Errorf("unterminated string in %q", line)
			}
			tokens = append(tokens, line[:end+1])
			line = line[end+1:]
		default:
			end := strings.IndexAny(line, " \t")
			if end < 0 {
				end = len(line)
			}
			tokens = append(tokens, line[:end])
			line = line[end:]
		}
	}
	return tokens, nil
}

// splitList returns the elements of "{ a, b }", or the token itself.
func splitList(token string) []string {
	if !strings.HasPrefix(token, "{") {
		return []string{token}
	}
	var out []string
	for _, part := range strings.Split(strings.Trim(token, "{}"), ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func parseAddresses(token string) (segmentation.Addresses, error) {
	if strings.HasPrefix(token, "@") {
		return segmentation.Addresses{Set: token[1:]}, nil
	}
	prefixes, err := parsePrefixList(token)
	return segmentation.Addresses{Prefixes: prefixes}, err
}

func parsePrefixList(token string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range splitList(token) {
		p, err := parsePrefix(part)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// parsePrefix reads a prefix, or an address written without its length.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
