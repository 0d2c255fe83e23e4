package ipam

import (
	"math"
	"net/netip"
	"slices"

	"go4.org/netipx"
)

// carver hands out aligned blocks of one prefix length from a set of free
// addresses of one family, lowest address first. It walks the set's ranges
// in order and splits each range into its largest aligned prefixes, because
// any aligned block inside a range lies inside exactly one of them.
type carver struct {
	bits   int
	family Family
	ranges []netipx.IPRange // free ranges not yet reached
	pieces []netip.Prefix   // aligned pieces of the current range not yet reached
	piece  netip.Prefix     // the piece that next lies in
	next   netip.Prefix     // the next block to hand out, or invalid when unknown
}

// newCarver returns a carver of /bits blocks from the family-f addresses
// of free.
func newCarver(free *netipx.IPSet, f Family, bits int) *carver {
	return &carver{bits: bits, family: f, ranges: free.Ranges()}
}

// newCarverWithin returns a carver of /bits blocks from parent minus the
// used prefixes.
func newCarverWithin(parent netip.Prefix, used []netip.Prefix, bits int) *carver {
	var b netipx.IPSetBuilder
	b.AddPrefix(parent)
	for _, u := range used {
		b.RemovePrefix(u)
	}
	free, _ := b.IPSet()
	return newCarver(free, familyOf(parent), bits)
}

// peek returns the block that take would return, without taking it.
func (c *carver) peek() (netip.Prefix, bool) {
	for !c.next.IsValid() {
		switch {
		case len(c.pieces) > 0:
			p := c.pieces[0]
			c.pieces = c.pieces[1:]
			if p.Bits() <= c.bits {
				c.piece = p
				c.next = netip.PrefixFrom(p.Addr(), c.bits)
			}
		case len(c.ranges) > 0:
			r := c.ranges[0]
			c.ranges = c.ranges[1:]
			if r.From().Is4() == (c.family == IPv4) {
				c.pieces = r.AppendPrefixes(c.pieces[:0])
			}
		default:
			return netip.Prefix{}, false
		}
	}
	return c.next, true
}

// take returns the lowest free block and marks it used.
func (c *carver) take() (netip.Prefix, bool) {
	p, ok := c.peek()
	if !ok {
		return p, false
	}
	after := netipx.PrefixLastIP(p).Next()
	if after.IsValid() && c.piece.Contains(after) {
		c.next = netip.PrefixFrom(after, c.bits)
	} else {
		c.next = netip.Prefix{}
	}
	return p, true
}

// countBlocks returns how many aligned /bits blocks of family f fit in
// free, saturating at math.MaxUint64.
func countBlocks(free *netipx.IPSet, f Family, bits int) uint64 {
	var n uint64
	var pieces []netip.Prefix
	for _, r := range free.Ranges() {
		if r.From().Is4() != (f == IPv4) {
			continue
		}
		pieces = r.AppendPrefixes(pieces[:0])
		for _, p := range pieces {
			if p.Bits() > bits {
				continue
			}
			shift := bits - p.Bits()
			if shift >= 64 {
				return math.MaxUint64
			}
			add := uint64(1) << shift
			if n > math.MaxUint64-add {
				return math.MaxUint64
			}
			n += add
		}
	}
	return n
}

// blocksIn returns how many /bits blocks parent holds, saturating at
// math.MaxUint64.
func blocksIn(parent netip.Prefix, bits int) uint64 {
	shift := bits - parent.Bits()
	switch {
	case shift < 0:
		return 0
	case shift >= 64:
		return math.MaxUint64
	}
	return uint64(1) << shift
}

// covers reports whether every address of inner is in outer.
func covers(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// isBlock reports whether p is a network prefix of family f and length
// bits, which every block in a plan must be.
func isBlock(p netip.Prefix, f Family, bits int) bool {
	return p.IsValid() && familyOf(p) == f && p.Bits() == bits && p.Masked() == p
}

// sortPrefixes sorts prefixes IPv4 first, then by address.
func sortPrefixes(prefixes []netip.Prefix) {
	slices.SortFunc(prefixes, netipx.ComparePrefix)
}
