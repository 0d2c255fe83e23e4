// Package model evaluates the enforcement formats that the segmentation
// compiler produces, security groups and nftables rulesets, so tests can
// check what a compiled output allows without a cloud or a kernel.
package model

import (
	"fmt"
	"net/netip"
)

// Packet is the first packet of a connection, or any later packet of it.
type Packet struct {
	Src, Dst netip.Addr
	// Protocol is "tcp", "udp" or "sctp".
	Protocol         string
	SrcPort, DstPort uint16
}

// Reply returns the reply to p: addresses and ports swapped.
func (p Packet) Reply() Packet {
	return Packet{Src: p.Dst, Dst: p.Src, Protocol: p.Protocol, SrcPort: p.DstPort, DstPort: p.SrcPort}
}

func (p Packet) String() string {
	return fmt.Sprintf("%s %s:%d -> %s:%d", p.Protocol, p.Src, p.SrcPort, p.Dst, p.DstPort)
}

// connections tracks connections in both directions, as a stateful filter does.
type connections map[Packet]bool

// established reports whether p belongs to a tracked connection, in either direction.
func (c connections) established(p Packet) bool { return c[p] || c[p.Reply()] }
