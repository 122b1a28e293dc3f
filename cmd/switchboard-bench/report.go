package main

// The results table, plain or Markdown.

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets.
const (
	targetKiBPerConn = 10.0
	targetMockRatio  = 0.7
	targetProxyRatio = 0.4
	// targetBridgeRatio is HTTP_PROXY ÷ the raw proxy bridge.
	targetBridgeRatio = 0.8
	// targetPeerRatio is the local Go function ÷ serverless-offline --useInProcess (goal: 4).
	targetPeerRatio = 2.0
	// targetNodePeerRatio is the local Node.js function ÷ serverless-offline --useInProcess: at least as fast.
	targetNodePeerRatio = 1.0
	// targetHandshakeRatio is handshakes with $connect → local function ÷ handshakes without $connect.
	targetHandshakeRatio = 0.5
	// targetLambdaCPURatio bounds the gateway's CPU per AWS_PROXY invocation ÷ per HTTP_PROXY message.
	targetLambdaCPURatio = 2.0
	// targetMappingCPU bounds the gateway's CPU per message on a route with a request template,
	// validation and a response template, relative to the same route with static templates.
	targetMappingCPU = 2.0
	// targetBroadcastRatio is the management extension's Broadcast against raw gws fan-out.
	targetBroadcastRatio = 0.8
	// targetRemoteP99Extra is what a remote owner may add to an @connections POST's p99 in a cluster.
	targetRemoteP99Extra = time.Millisecond
	// targetClusterConnectRatio is a clustered node's handshakes per second ÷ a single node's.
	targetClusterConnectRatio = 0.8
)

// row is one line of the table.
type row struct {
	what, raw, gateway, ratio, target, met string
}

// target is one target and whether it was met.
type target struct {
	what, value string
	met         bool
}

func report(w io.Writer, res *results, command string) error {
	rows, targets := tabulate(res)
	m := describeMachine()
	s := res.Settings
	if !s.Markdown {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "%s\n", command)
		fmt.Fprintf(tw, "%d CPUs (%s), %s, %s, GOMAXPROCS %d, open files %d\n\n", m.CPUs, m.CPUModel, m.Kernel, m.GoVersion, m.GOMAXPROCS, m.FileLimit)
		fmt.Fprintln(tw, "measurement\traw gws echo\tSwitchboard\tSwitchboard / raw\ttarget\t")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.what, r.raw, r.gateway, r.ratio, r.target, r.met)
		}
		fmt.Fprintln(tw)
		for _, t := range targets {
			fmt.Fprintf(tw, "target %s:\t%s\t%s\n", t.what, t.value, metText(t.met))
		}
		writeNotes(tw, res, "")
		return tw.Flush()
	}
	var b strings.Builder
	b.WriteString("## Switchboard vs a raw gws echo server\n\n")
	fmt.Fprintf(&b, "- Machine: %d CPUs (%s), %s, %s RAM, open-files limit %d; client and servers share it.\n",
		m.CPUs, m.CPUModel, m.Kernel, memTotal(), m.FileLimit)
	fmt.Fprintf(&b, "- Go: %s, GOMAXPROCS %d (client and every server process).\n", m.GoVersion, m.GOMAXPROCS)
	fmt.Fprintf(&b, "- Command: `%s`\n", command)
	fmt.Fprintf(&b, "- Settings: %d and %d idle connections; %d concurrent clients; %v measured after %v warm-up per scenario; %d-byte messages.\n\n",
		s.Conns, s.MaxConns, s.Clients, s.Duration, s.warmup(), s.MsgSize)
	b.WriteString("| Measurement | raw gws echo | Switchboard | Switchboard / raw | Target | |\n")
	b.WriteString("|---|--:|--:|--:|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", strings.TrimSpace(r.what), r.raw, r.gateway, r.ratio, r.target, r.met)
	}
	b.WriteString("\nTargets:\n\n")
	for _, t := range targets {
		fmt.Fprintf(&b, "- %s: %s — **%s**\n", t.what, t.value, metText(t.met))
	}
	writeNotes(&b, res, "- ")
	b.WriteString("\nRSS is VmRSS of the server process (from /proc/PID/status): (RSS with N idle connections − RSS after 8 warm-up connections) / N. " +
		"Round trips: each client sends a message and waits for the reply, in a closed loop. " +
		"Server CPU is the cores the server processes used while measured; the client (this process) uses the rest of the machine.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// tailFactor is how far above the p50 a p99.9 has to be to be called out.
const tailFactor = 10

// tails lists the scenarios whose p99.9 is more than tailFactor times their p50 (BENCHMARKS.md explains
// them).
func tails(res *results) []string {
	var out []string
	check := func(name string, p50, p999 time.Duration) {
		if p50 > 0 && p999 > tailFactor*p50 {
			out = append(out, fmt.Sprintf("%s: p99.9 %s is %.0f× the p50 %s", name, ms(p999), float64(p999)/float64(p50), ms(p50)))
		}
	}
	for _, k := range []string{"raw", "bridge", "mock", "proxy", "lambda", "lambda-bridge", "lambda-node", "lambda-python", "sls-inprocess", "sls-default"} {
		if r := res.RTT[k]; r != nil {
			check("round trips "+k, r.P50, r.P999)
		}
	}
	for _, k := range []string{"plain", "function", "bridge-plain", "bridge-connect"} {
		if h := res.Handshakes[k]; h != nil {
			check("handshakes "+k, h.P50, h.P999)
		}
	}
	if m := res.Mgmt; m != nil {
		check("@connections", m.P50, m.P999)
	}
	return out
}

func writeNotes(w io.Writer, res *results, bullet string) {
	if t := tails(res); len(t) > 0 {
		fmt.Fprintf(w, "\nTails above %d× the p50:\n", tailFactor)
		if bullet != "" {
			fmt.Fprintln(w)
		}
		for _, s := range t {
			fmt.Fprintf(w, "%s%s\n", bullet, s)
		}
	}
	if len(res.Warnings) > 0 {
		fmt.Fprintln(w, "\nWarnings:")
		if bullet != "" {
			fmt.Fprintln(w)
		}
		for _, s := range res.Warnings {
			fmt.Fprintf(w, "%s%s\n", bullet, s)
		}
	}
	if len(res.Errors) > 0 {
		fmt.Fprintln(w, "\nErrors:")
		if bullet != "" {
			fmt.Fprintln(w)
		}
		for _, s := range res.Errors {
			fmt.Fprintf(w, "%s%s\n", bullet, s)
		}
	}
}

func tabulate(res *results) ([]row, []target) {
	var rows []row
	var targets []target
	s := res.Settings
	raw, sb := res.RSS["raw"], res.RSS["switchboard"]
	if raw != nil || sb != nil {
		counts := []int{s.Conns}
		if s.MaxConns > s.Conns {
			counts = append(counts, s.MaxConns)
		}
		var sbFigures []string
		sbMet := sb != nil && len(sb.Points) > 0
		for i, n := range counts {
			r := row{what: fmt.Sprintf("RSS per idle connection, %d connections", n), raw: "—", gateway: "—", ratio: "—",
				target: fmt.Sprintf("≤ %.0f KiB", targetKiBPerConn)}
			rp, rok := rssAt(raw, i, n)
			sp, sok := rssAt(sb, i, n)
			if rok {
				r.raw = kib(rp)
			}
			if sok {
				r.gateway = kib(sp)
				met := sp.KiBPerConn <= targetKiBPerConn
				r.met = metText(met)
				sbMet = sbMet && met
				sbFigures = append(sbFigures, fmt.Sprintf("%.2f KiB at %d", sp.KiBPerConn, sp.Conns))
			} else {
				sbMet = false
			}
			if rok && sok && rp.KiBPerConn > 0 {
				r.ratio = fmt.Sprintf("%.2f", sp.KiBPerConn/rp.KiBPerConn)
			}
			rows = append(rows, r)
		}
		if sb != nil {
			base := row{what: "RSS after warm-up (baseline)", raw: "—", gateway: fmt.Sprintf("%.1f MiB", float64(sb.BaselineKiB)/1024)}
			if raw != nil {
				base.raw = fmt.Sprintf("%.1f MiB", float64(raw.BaselineKiB)/1024)
			}
			rows = append(rows, base)
			targets = append(targets, target{what: fmt.Sprintf("Switchboard RSS per idle connection ≤ %.0f KiB", targetKiBPerConn),
				value: strings.Join(sbFigures, ", "), met: sbMet})
		}
	}
	rawRTT := res.RTT["raw"]
	routes := []struct{ key, label string }{{"mock", "MOCK"}, {"proxy", "HTTP_PROXY"}, {"lambda", "AWS_PROXY (local Go function)"}}
	for _, f := range langFunctions {
		routes = append(routes, struct{ key, label string }{f.key, f.label})
	}
	for _, sc := range routes {
		g := res.RTT[sc.key]
		if g == nil && (rawRTT == nil || strings.HasPrefix(sc.key, "lambda-")) {
			continue
		}
		goal := targetMockRatio
		switch sc.key {
		case "proxy":
			goal = targetProxyRatio
		case "lambda", "lambda-node", "lambda-python":
			goal = 0 // no target against raw: compared with HTTP_PROXY and the peers below
		}
		r := row{what: "Round trips/s, " + sc.label + " route", raw: "—", gateway: "—", ratio: "—"}
		if goal > 0 {
			r.target = fmt.Sprintf("≥ %.1f× raw", goal)
		}
		lat := row{what: "  p50 / p99 / p99.9 latency, " + sc.label, raw: "—", gateway: "—"}
		cpu := row{what: "  server CPU (cores), " + sc.label, raw: "—", gateway: "—"}
		per := row{what: "  server CPU per round trip, " + sc.label, raw: "—", gateway: "—"}
		switch sc.key {
		case "proxy":
			cpu.what += " (gateway + backend)"
			per.what += " (gateway + backend)"
		case "lambda", "lambda-node", "lambda-python":
			cpu.what += " (gateway + function processes)"
			per.what += " (gateway + function processes)"
		}
		if rawRTT != nil {
			r.raw, lat.raw, cpu.raw, per.raw = count(rawRTT.Rate), latencies(rawRTT), fmt.Sprintf("%.2f", rawRTT.ServerCPU), perMessage(rawRTT.ServerCPU, 0, rawRTT.Rate)
		}
		if g != nil {
			r.gateway, lat.gateway, cpu.gateway = count(g.Rate), latencies(g), fmt.Sprintf("%.2f", g.ServerCPU)
			per.gateway = perMessage(g.ServerCPU, 0, g.Rate)
			if sc.key != "mock" {
				cpu.gateway = fmt.Sprintf("%.2f + %.2f", g.ServerCPU, g.BackendCPU)
				per.gateway = perMessage(g.ServerCPU, g.BackendCPU, g.Rate)
			}
		}
		if g != nil && rawRTT != nil && rawRTT.Rate > 0 {
			ratio := g.Rate / rawRTT.Rate
			r.ratio = fmt.Sprintf("%.2f", ratio)
			if goal > 0 {
				r.met = metText(ratio >= goal)
				targets = append(targets, target{what: fmt.Sprintf("%s / raw round trips ≥ %.1f", sc.label, goal),
					value: fmt.Sprintf("%.2f", ratio), met: ratio >= goal})
			}
		}
		rows = append(rows, r, lat, cpu, per)
		if p := res.RTT["proxy"]; sc.key == "lambda" && g != nil && p != nil && p.Rate > 0 {
			rows = append(rows, row{what: "  AWS_PROXY (local function) / HTTP_PROXY round trips", raw: "—", gateway: fmt.Sprintf("%.2f", g.Rate/p.Rate)})
			if g.Rate > 0 && p.ServerCPU > 0 && g.ServerCPU > 0 {
				ratio := (g.ServerCPU / g.Rate) / (p.ServerCPU / p.Rate)
				rows = append(rows, row{what: "  gateway CPU per message, AWS_PROXY ÷ HTTP_PROXY", raw: "—", gateway: fmt.Sprintf("%.2f", ratio),
					target: fmt.Sprintf("≤ %.0f", targetLambdaCPURatio), met: metText(ratio <= targetLambdaCPURatio)})
				targets = append(targets, target{what: fmt.Sprintf("gateway CPU per AWS_PROXY invocation ≤ %.0f× per HTTP_PROXY message", targetLambdaCPURatio),
					value: fmt.Sprintf("%.2f (%s vs %s)", ratio, perMessage(g.ServerCPU, 0, g.Rate), perMessage(p.ServerCPU, 0, p.Rate)), met: ratio <= targetLambdaCPURatio})
			} else {
				// A run too short (or a machine too busy) for the process's CPU clock to tick: said, not hidden.
				rows = append(rows, row{what: "  gateway CPU per message, AWS_PROXY ÷ HTTP_PROXY", raw: "—", gateway: "— (no CPU time measured; run longer)"})
			}
		}
	}
	// Against baselines other than the raw echo server: the baseline's figures go in the "raw" column.
	for _, cmp := range []struct {
		key, base, label, baseCPU string
		goal                      float64
		p99                       bool   // the target includes a p99 no worse than the baseline's
		subjectCPU                string // whose CPU the second column shows, when not Switchboard's
		after                     func(g, base *rttResult) []row
	}{
		{key: "proxy", base: "bridge", label: "HTTP_PROXY route vs the raw proxy bridge (gws + Go HTTP client)", baseCPU: "bridge + backend", goal: targetBridgeRatio},
		// Switchboard ÷ the bridge: how close the gateway is to the work itself, on any machine.
		{key: "lambda", base: "lambda-bridge", label: "Go function route vs the raw Lambda bridge (gws + go1.x RPC)", baseCPU: "bridge + function processes"},
		{key: "lambda", base: "sls-inprocess", label: "AWS_PROXY local Go function vs serverless-offline --useInProcess (Node)", baseCPU: "node", goal: targetPeerRatio, p99: true},
		// The bridge ÷ serverless-offline: the most any gateway driving this function could reach here.
		{key: "lambda-bridge", base: "sls-inprocess", label: "raw Lambda bridge (gws + go1.x RPC) vs serverless-offline --useInProcess (Node)", baseCPU: "node",
			subjectCPU: "the bridge's + function processes'", after: bridgeCeiling},
		{key: "lambda", base: "sls-default", label: "AWS_PROXY local Go function vs serverless-offline default (Node)", baseCPU: "node"},
		{key: "lambda-node", base: "sls-inprocess", label: "AWS_PROXY local Node.js function vs serverless-offline --useInProcess (Node)", baseCPU: "node", goal: targetNodePeerRatio},
		{key: "lambda-python", base: "sls-inprocess", label: "AWS_PROXY local Python function vs serverless-offline --useInProcess (Node)", baseCPU: "node"},
	} {
		g, base := res.RTT[cmp.key], res.RTT[cmp.base]
		if g == nil || base == nil {
			continue
		}
		r := row{what: "Round trips/s, " + cmp.label, raw: count(base.Rate), gateway: count(g.Rate), ratio: "—"}
		lat := row{what: "  p50 / p99 / p99.9 latency", raw: latencies(base), gateway: latencies(g)}
		subject := cmp.subjectCPU
		if subject == "" {
			subject = "Switchboard's"
		}
		cpu := row{what: "  server CPU per round trip (" + cmp.baseCPU + " vs " + subject + ")", raw: perMessage(base.ServerCPU, base.BackendCPU, base.Rate),
			gateway: perMessage(g.ServerCPU, g.BackendCPU, g.Rate)}
		if base.Rate > 0 {
			ratio := g.Rate / base.Rate
			r.ratio = fmt.Sprintf("%.2f", ratio)
			if cmp.goal > 0 {
				met := ratio >= cmp.goal
				r.target = fmt.Sprintf("≥ %.1f×", cmp.goal)
				what := fmt.Sprintf("%s ≥ %.1f×", cmp.label, cmp.goal)
				value := fmt.Sprintf("%.2f", ratio)
				if cmp.p99 {
					met = met && g.P99 <= base.P99
					r.target += ", p99 ≤"
					what += " with a p99 no worse"
					value += fmt.Sprintf(", p99 %s vs %s", ms(g.P99), ms(base.P99))
				}
				r.met = metText(met)
				targets = append(targets, target{what: what, value: value, met: met})
			}
		}
		rows = append(rows, r, lat, cpu)
		if cmp.after != nil {
			rows = append(rows, cmp.after(g, base)...)
		}
	}
	if plain, fn := res.Handshakes["plain"], res.Handshakes["function"]; plain != nil || fn != nil {
		r := row{what: "Handshakes/s, $connect → local function vs no $connect", raw: "—", gateway: "—", ratio: "—",
			target: fmt.Sprintf("≥ %.1f×", targetHandshakeRatio)}
		lat := row{what: "  p50 / p99 / p99.9 handshake time", raw: "—", gateway: "—"}
		cpu := row{what: "  gateway CPU per handshake (+ function processes)", raw: "—", gateway: "—"}
		client := row{what: "  load tool CPU per handshake (the client, same machine)", raw: "—", gateway: "—"}
		if plain != nil {
			r.raw, lat.raw, cpu.raw, client.raw = count(plain.Rate), lat3(plain.P50, plain.P99, plain.P999), us(plain.ServerCPUPerConn), us(plain.ClientCPUPerConn)
		}
		if fn != nil {
			r.gateway, lat.gateway, cpu.gateway, client.gateway = count(fn.Rate), lat3(fn.P50, fn.P99, fn.P999), us(fn.ServerCPUPerConn), us(fn.ClientCPUPerConn)
			if fn.HelperCPUPerConn > 0 {
				cpu.gateway += " + " + us(fn.HelperCPUPerConn)
			}
		}
		if plain != nil && fn != nil && plain.Rate > 0 {
			ratio := fn.Rate / plain.Rate
			r.ratio, r.met = fmt.Sprintf("%.2f", ratio), metText(ratio >= targetHandshakeRatio)
			targets = append(targets, target{what: fmt.Sprintf("handshakes with $connect → local function ≥ %.1f× those without $connect", targetHandshakeRatio),
				value: fmt.Sprintf("%.2f (%s vs %s per second)", ratio, count(fn.Rate), count(plain.Rate)), met: ratio >= targetHandshakeRatio})
		}
		rows = append(rows, r, lat, cpu, client)
	}
	rows = append(rows, bridgeHandshakeRows(res)...)
	for _, c := range []struct{ key, label string }{{"lambda", "Go"}, {"lambda-node", "Node.js"}, {"lambda-python", "Python"}} {
		if d := res.ColdStarts[c.key]; d > 0 {
			rows = append(rows, row{what: "Cold start of the local " + c.label + " function (first round trip of a fresh gateway)", raw: "—",
				gateway: fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)})
		}
	}
	if p, m := res.RTT["plain"], res.RTT["mapped"]; p != nil && m != nil {
		pc, mc := p.cpuPerMessage(), m.cpuPerMessage()
		rows = append(rows,
			row{what: "Round trips/s, MOCK with static templates / with request template + validation + response template", raw: "—",
				gateway: count(p.Rate) + " / " + count(m.Rate)},
			row{what: "  gateway CPU per message, static / mapped", raw: "—", gateway: fmt.Sprintf("%.1f µs / %.1f µs", micros(pc), micros(mc))})
		if pc > 0 {
			ratio := float64(mc) / float64(pc)
			rows = append(rows, row{what: "  mapped / static CPU per message", raw: "—", gateway: fmt.Sprintf("%.2f", ratio),
				target: fmt.Sprintf("≤ %.1f×", targetMappingCPU), met: metText(ratio <= targetMappingCPU)})
			targets = append(targets, target{what: fmt.Sprintf("mapped / static CPU per message ≤ %.1f", targetMappingCPU),
				value: fmt.Sprintf("%.2f", ratio), met: ratio <= targetMappingCPU})
		}
	}
	if m := res.Mgmt; m != nil {
		rows = append(rows,
			row{what: fmt.Sprintf("@connections POSTs/s answered 200 (%d clients, %d connections)", s.Clients, m.Conns), raw: "—", gateway: count(m.Rate)},
			row{what: "  p50 / p99 / p99.9 latency, @connections", raw: "—", gateway: lat3(m.P50, m.P99, m.P999)},
			row{what: "  non-200 responses / failed requests", raw: "—", gateway: fmt.Sprintf("%s / %d", statuses(m.Other), m.Errors)},
			row{what: "  messages delivered / POSTs accepted", raw: "—", gateway: fmt.Sprintf("%d / %d", m.Delivered, m.Accepted)},
			row{what: "  server CPU (cores), @connections", raw: "—", gateway: fmt.Sprintf("%.2f", m.ServerCPU)},
		)
	}
	braw, bsb := res.Broadcast["raw"], res.Broadcast["switchboard"]
	if braw != nil || bsb != nil {
		r := row{what: fmt.Sprintf("Broadcast to %d connections: messages delivered/s (median of %d rounds)", s.Conns, broadcastRounds), raw: "—", gateway: "—"}
		lat := row{what: "  POST to last delivery, median", raw: "—", gateway: "—"}
		if braw != nil {
			r.raw, lat.raw = count(braw.rate()), ms(braw.median())
		}
		if bsb != nil {
			r.gateway, lat.gateway = count(bsb.rate()), ms(bsb.median())
		}
		if braw != nil && bsb != nil {
			ratio := bsb.rate() / braw.rate()
			r.ratio, r.target, r.met = fmt.Sprintf("%.2f", ratio), fmt.Sprintf("≥ %.1f", targetBroadcastRatio), metText(ratio >= targetBroadcastRatio)
			targets = append(targets, target{what: fmt.Sprintf("broadcast ≥ %.1f× raw gws fan-out", targetBroadcastRatio),
				value: fmt.Sprintf("%.2f", ratio), met: ratio >= targetBroadcastRatio})
		}
		rows = append(rows, r, lat)
	}
	hr, ht := httpRows(res)
	rows, targets = append(rows, hr...), append(targets, ht...)
	if c := res.Cluster; c != nil {
		rows, targets = clusterRows(c, rows, targets)
	}
	return rows, targets
}

// clusterRows are the cluster scenario's rows: "raw" is the baseline (local owner, single node).
func clusterRows(c *clusterResult, rows []row, targets []target) ([]row, []target) {
	if c.Local != nil && c.Remote != nil {
		r := row{what: fmt.Sprintf("Cluster of 3: @connections POSTs/s, closed loop of %d clients (each path at its own saturation), owner local / remote (via another node)", c.Clients),
			raw: count(c.Local.Rate), gateway: count(c.Remote.Rate)}
		if c.Local.Rate > 0 {
			r.ratio = fmt.Sprintf("%.2f", c.Remote.Rate/c.Local.Rate)
		}
		rows, targets = postRows(rows, targets, r, "closed loop", c.Local, c.Remote)
	}
	if c.LocalFixed != nil && c.RemoteFixed != nil {
		r := row{what: fmt.Sprintf("Cluster of 3: @connections POSTs at one fixed rate of %s/s to each path, both at once (open loop, up to %d in flight each; a POST sent late because all were busy counts from its due time), answered/s local / remote", count(c.FixedRate), openLoopSlots),
			raw: count(c.LocalFixed.Rate), gateway: count(c.RemoteFixed.Rate)}
		rows, targets = postRows(rows, targets, r, fmt.Sprintf("fixed rate %s/s", count(c.FixedRate)), c.LocalFixed, c.RemoteFixed)
		rows = append(rows, row{what: "  wait from due time to sending (p50 / p99; counted above only when every slot was busy), local / remote",
			raw: lat2(c.LocalFixed.LagP50, c.LocalFixed.LagP99), gateway: lat2(c.RemoteFixed.LagP50, c.RemoteFixed.LagP99)})
	}
	rows = append(rows, rawNATSPostRows(c.Raw)...)
	if s, cl := c.ConnectSingle, c.ConnectCluster; s != nil && cl != nil && s.Rate > 0 {
		ratio := cl.Rate / s.Rate
		ok := ratio >= targetClusterConnectRatio
		rows = append(rows,
			row{what: "Cluster of 3: handshakes/s, single node / clustered node ($connect → backend)", raw: count(s.Rate), gateway: count(cl.Rate),
				ratio: fmt.Sprintf("%.2f", ratio), target: fmt.Sprintf("≥ %.1f×", targetClusterConnectRatio), met: metText(ok)},
			row{what: "  p50 / p99 handshake time, single / clustered", raw: lat2(s.P50, s.P99), gateway: lat2(cl.P50, cl.P99)},
			row{what: "  gateway CPU per handshake, single / clustered", raw: us(s.ServerCPUPerConn), gateway: us(cl.ServerCPUPerConn)},
			row{what: "  the other two nodes' CPU per handshake (their NATS servers hold the connection log's other replicas)", raw: "—", gateway: us(cl.HelperCPUPerConn)},
		)
		rows = append(rows, machineRows(s, cl, c.CPUs, "")...)
		targets = append(targets, target{what: fmt.Sprintf("cluster: clustered node's handshakes ≥ %.1f× a single node's", targetClusterConnectRatio),
			value: fmt.Sprintf("%.2f (%s vs %s per second)", ratio, count(cl.Rate), count(s.Rate)), met: ok})
	}
	rows = append(rows, connectWorkRows(c)...)
	rows = append(rows, rawNATSHandshakeRows(c)...)
	if b := c.Broadcast; b != nil {
		rows = append(rows, row{what: fmt.Sprintf("Cluster of 3: Broadcast to %d connections spread over 3 nodes, POST to last delivery (median of %d)", c.BroadcastConns, broadcastRounds),
			raw: "—", gateway: ms(b.median()) + " (" + count(b.rate()) + " msg/s)"})
	}
	return rows, targets
}

// connectWorkRows are the single and the clustered node's handshakes with a $connect that takes
// c.ConnectWork before it answers (what a $connect that writes to a store costs), measured in the same
// turns as the instant $connect's. No target: the instant $connect's rows stay the headline, since an
// instant backend leaves nothing to hide the record's write behind; these say what the ratio is when
// the $connect does real work.
func connectWorkRows(c *clusterResult) []row {
	s, cl := c.ConnectSingleWork, c.ConnectClusterWork
	if c.ConnectWork <= 0 || s == nil || cl == nil {
		return nil
	}
	return append([]row{
		{what: fmt.Sprintf("Cluster of 3: handshakes/s, single node / clustered node, $connect → backend taking %v before it answers (a store write, as a DynamoDB PutItem)", c.ConnectWork),
			raw: count(s.Rate), gateway: count(cl.Rate), ratio: ratio2(cl.Rate, s.Rate)},
		{what: fmt.Sprintf("  p50 / p99 handshake time, single / clustered ($connect taking %v)", c.ConnectWork), raw: lat2(s.P50, s.P99), gateway: lat2(cl.P50, cl.P99)},
		{what: fmt.Sprintf("  gateway CPU per handshake, single / clustered ($connect taking %v)", c.ConnectWork), raw: us(s.ServerCPUPerConn), gateway: us(cl.ServerCPUPerConn)},
	}, machineRows(s, cl, c.CPUs, fmt.Sprintf(" ($connect taking %v)", c.ConnectWork))...)
}

// rawNATSPostRows are the raw NATS cluster's POST rows ("raw" column: local, the other: remote), each
// regime with the ceiling of the remote p99 target on this machine: the raw cluster's remote path adds one NATS
// round trip between two processes and nothing else, so when its own p99 exceeds its local one's by
// more than the target allows, no gateway over NATS meets the target here.
func rawNATSPostRows(p *postPaths) []row {
	if p == nil {
		return nil
	}
	var rows []row
	for _, r := range []struct {
		regime        string
		local, remote *postFigures
	}{
		{"closed loop of the same clients", p.Local, p.Remote},
		{fmt.Sprintf("the same fixed rate of %s/s to each path, both at once", count(p.FixedRate)), p.LocalFixed, p.RemoteFixed},
	} {
		if r.local == nil || r.remote == nil {
			continue
		}
		extra := r.remote.P99 - r.local.P99
		verdict := fmt.Sprintf("within reach (the raw cluster's remote p99 is %s above its local one)", signedMs(extra))
		if extra > targetRemoteP99Extra {
			verdict = fmt.Sprintf("out of reach here: the raw cluster's own remote p99 is %s above its local one", signedMs(extra))
		}
		rows = append(rows,
			row{what: "Raw NATS cluster (one NATS request/reply to another process, nothing else), " + r.regime + ": POSTs/s local / remote",
				raw: count(r.local.Rate), gateway: count(r.remote.Rate), ratio: ratio2(r.remote.Rate, r.local.Rate)},
			row{what: "  p50 / p99, local / remote", raw: lat2(r.local.P50, r.local.P99), gateway: lat2(r.remote.P50, r.remote.P99)},
			row{what: "  non-200 / failed, local / remote", raw: fmt.Sprintf("%s / %d", statuses(r.local.Other), r.local.Errors),
				gateway: fmt.Sprintf("%s / %d", statuses(r.remote.Other), r.remote.Errors)},
			row{what: "  ceiling of the remote p99 ≤ local + 1 ms target on this machine (" + r.regime + ")", raw: "—", gateway: verdict})
	}
	return rows
}

// rawNATSHandshakeRows are the raw NATS cluster's handshakes without a record ("raw" column) and with
// one (a peer's, batched peers', then the stream's), and the ceilings they put on the connect target on
// this machine (connectCeiling): the CPU a record adds to a handshake is paid by every design, the time
// it adds is not. The peer record is the cheapest write that survives the node, so its ceiling binds
// every design; the stream's is one append per handshake, which Switchboard's batching beats when many
// handshakes wait at once. The batched peer record is the cheapest write with batching, and what it
// costs is drawn three ways (batchedPeerCeilings).
func rawNATSHandshakeRows(c *clusterResult) []row {
	plain := c.RawPlain
	if plain == nil {
		return nil
	}
	var rows []row
	for _, r := range []struct {
		what   string
		res    *hsResult
		helper string // the record holder's CPU, when measured apart
	}{
		{"Raw NATS cluster: handshakes/s, no record / a record held by another process (one core NATS request) before the upgrade ($connect → backend in both, the record sent alongside)", c.RawPeer, " + the holder's"},
		{"Raw NATS cluster: handshakes/s, no record / a record held by another process, batched (the records that arrive while a request is in flight go together in the next one, each handshake waiting for the reply that covers its own) before the upgrade ($connect → backend in both, the record sent alongside)", c.RawPeerBatch, " + the holder's"},
		{"Raw NATS cluster: handshakes/s, no record / a record appended to a JetStream stream of 3 replicas before the upgrade (one append per handshake, alongside $connect)", c.RawStream, ""},
	} {
		if r.res == nil {
			continue
		}
		cpu := us(r.res.ServerCPUPerConn)
		if r.helper != "" {
			cpu += " + " + us(r.res.HelperCPUPerConn)
		}
		rows = append(rows,
			row{what: r.what, raw: count(plain.Rate), gateway: count(r.res.Rate), ratio: ratio2(r.res.Rate, plain.Rate)},
			row{what: "  p50 / p99 handshake time, no record / record", raw: lat2(plain.P50, plain.P99), gateway: lat2(r.res.P50, r.res.P99)},
			row{what: "  node CPU per handshake" + r.helper, raw: us(plain.ServerCPUPerConn), gateway: cpu})
	}
	s := c.ConnectSingle
	if s == nil || s.Rate <= 0 || c.CPUs <= 0 {
		return append(rows, batchedPeerCeilings(c, 0)...)
	}
	singleCPU := s.ServerCPUPerConn + s.ClientCPUPerConn
	if p := c.RawPeer; p != nil && p.Rate > 0 {
		verdict := "not measured (no CPU time recorded for the single node)"
		if singleCPU > 0 {
			ceiling := connectCeiling(c.CPUs, s.Rate, singleCPU, p.ServerCPUPerConn+p.HelperCPUPerConn-plain.ServerCPUPerConn)
			verdict = fmt.Sprintf("within reach (%.2f)", ceiling)
			if ceiling < targetClusterConnectRatio {
				verdict = fmt.Sprintf("out of reach here: at most %.2f", ceiling)
			}
		}
		rows = append(rows, row{what: fmt.Sprintf("  ceiling of the clustered node's ≥ %.1f× target on this machine, any design (the single node's CPU per handshake plus the least a record adds to it: a peer's, on %d cores)", targetClusterConnectRatio, c.CPUs),
			raw: "—", gateway: verdict})
	}
	if st := c.RawStream; st != nil && st.Rate > 0 {
		verdict := "not measured"
		if singleCPU > 0 {
			verdict = fmt.Sprintf("%.2f", connectCeiling(c.CPUs, s.Rate, singleCPU, st.ServerCPUPerConn-plain.ServerCPUPerConn))
		}
		rows = append(rows, row{what: "  the same with one stream append per handshake (records in the cluster store, unbatched; its replicas' CPU not counted)",
			raw: "—", gateway: verdict})
	}
	rows = append(rows, batchedPeerCeilings(c, singleCPU)...)
	if r, ok := machineCeilingRow(c); ok {
		rows = append(rows, r)
	}
	return rows
}

// machineRows are the CPU per handshake of every process serving two turns' handshakes (the node or
// nodes with their NATS servers, the backend, the load tool), and how busy the machine was meanwhile:
// where it was busy in both turns, the machine bounds the rates, and their ratio follows the inverse of
// the CPU per handshake (the ratio column). The machine's busy cores less the serving processes' are
// other work, which makes a turn's rate lower without adding to its CPU per handshake. turn ends each
// row's name, telling the pairs of turns apart ("": the instant $connect's).
func machineRows(a, b *hsResult, cpus int, turn string) []row {
	r := row{what: "  CPU per handshake of every process serving it (nodes with their NATS servers, backend, load tool), single / clustered" + turn,
		raw: us(a.AllCPUPerConn), gateway: us(b.AllCPUPerConn)}
	if b.AllCPUPerConn > 0 {
		r.ratio = fmt.Sprintf("%.2f", a.AllCPUPerConn.Seconds()/b.AllCPUPerConn.Seconds())
	}
	busy := func(h *hsResult) string {
		return fmt.Sprintf("%.2f (other work %.2f)", h.MachineCPU, max(0, h.MachineCPU-h.AllCPU))
	}
	return []row{r, {what: fmt.Sprintf("  the machine's busy cores of %d, single / clustered turns%s", cpus, turn), raw: busy(a), gateway: busy(b)}}
}

// machineCeilingRow is the connect target's ceiling on the CPU of every serving process for each raw
// record: the single node's CPU per handshake (node, backend, load tool) plus what the record adds to
// the raw cluster's (all three raw nodes, the backend, the load tool), on the machine's cores
// (connectCeiling). It counts what the node-CPU ceilings above leave out — the backend, the holder's
// or the stream's replicas' NATS servers, the scheduling between them — so it binds every design whose
// record costs no less than that raw record, where the machine is what bounds the rate (the single
// node's turn kept it busy: the busy-cores row).
func machineCeilingRow(c *clusterResult) (row, bool) {
	s, plain := c.ConnectSingle, c.RawPlain
	if s == nil || plain == nil || s.Rate <= 0 || s.AllCPUPerConn <= 0 || plain.AllCPUPerConn <= 0 || c.CPUs <= 0 {
		return row{}, false
	}
	var parts []string
	best := 0.0
	for _, r := range []*hsResult{c.RawPeer, c.RawPeerBatch, c.RawStream} {
		if r == nil || r.AllCPUPerConn <= 0 {
			parts = append(parts, "—")
			continue
		}
		added := max(0, r.AllCPUPerConn-plain.AllCPUPerConn)
		ceiling := connectCeiling(c.CPUs, s.Rate, s.AllCPUPerConn, added)
		best = max(best, ceiling)
		parts = append(parts, fmt.Sprintf("%.2f (+%s)", ceiling, us(added)))
	}
	verdict := "within reach"
	if best < targetClusterConnectRatio {
		verdict = fmt.Sprintf("out of reach here for every record measured: at most %.2f", best)
	}
	return row{what: fmt.Sprintf("  ceiling on the CPU of every serving process (%d cores): the single node's per handshake plus what a record adds to the raw cluster's (peer / batched peer / stream; what each adds)", c.CPUs),
		raw: "—", gateway: strings.Join(parts, " / ") + ": " + verdict}, true
}

// batchedPeerCeilings are the ceilings the raw cluster's batched peer record, the cheapest record with
// batching, puts on the connect target, with why each is or is not a bound:
//
//   - Its ratio (its rate ÷ the raw cluster's without a record). It counts the time the record adds and
//     the scheduling it causes, not only its CPU, so where batching matters (many handshakes at once)
//     it is the measured cost of the cheapest design that batches. It is a bound only for a gateway
//     whose handshake is as short as the raw node's: the same added time weighs less on a longer
//     handshake, and Switchboard's does more than the raw node's before the upgrade. It is shown
//     because the raw cluster measures it; it does not bound Switchboard's ratio.
//   - The same added time applied to the single node. In a closed loop each handshake holds one
//     client for clients ÷ rate, whether it waits for a reply or for a core, so what the record adds
//     is clients × (1 ÷ its rate − 1 ÷ the rate without it); a clustered node whose record adds no
//     less does at most 1 ÷ (1 + single rate × (1 ÷ batched rate − 1 ÷ plain rate)) of the single
//     node. That binds a design whose record hides no better behind its $connect than the raw node's
//     does behind the same backend call (both send it alongside $connect): it is the bound at these
//     client counts with the instant $connect, not for a $connect that does real work (the
//     -connect-work rows), which hides more of it.
//   - The CPU ceiling (connectCeiling) with the batched record's CPU instead of the unbatched one's:
//     where batching is what makes the record cheaper, this is the least a record adds, and so the
//     machine's bound on any design that batches.
func batchedPeerCeilings(c *clusterResult, singleCPU time.Duration) []row {
	plain, pb, s := c.RawPlain, c.RawPeerBatch, c.ConnectSingle
	if plain == nil || pb == nil || plain.Rate <= 0 || pb.Rate <= 0 {
		return nil
	}
	verdict := func(ratio float64) string {
		if ratio < targetClusterConnectRatio {
			return fmt.Sprintf("out of reach here: at most %.2f", ratio)
		}
		return fmt.Sprintf("within reach (%.2f)", ratio)
	}
	rows := []row{{what: "  ceiling from the raw cluster's cheapest record (batched peer): its ratio (a bound only for a handshake as short as the raw node's)",
		raw: "—", gateway: fmt.Sprintf("%.2f", pb.Rate/plain.Rate)}}
	if s == nil || s.Rate <= 0 {
		return rows
	}
	added := 1/pb.Rate - 1/plain.Rate // seconds of one client's time per handshake, ÷ clients
	ceiling := min(1, 1/(1+s.Rate*max(0, added)))
	what := "  the same added to the single node's handshake: the time the batched record adds to the raw node's"
	if c.Clients > 0 {
		what += fmt.Sprintf(" (%s per handshake with %d clients)", ms(time.Duration(max(0, added)*float64(c.Clients)*float64(time.Second))), c.Clients)
	}
	rows = append(rows, row{what: what + ", as the single node's rate allows", raw: "—", gateway: verdict(ceiling)})
	cpu := "not measured (no CPU time recorded for the single node)"
	if singleCPU > 0 && c.CPUs > 0 {
		cpu = verdict(connectCeiling(c.CPUs, s.Rate, singleCPU, pb.ServerCPUPerConn+pb.HelperCPUPerConn-plain.ServerCPUPerConn))
	}
	return append(rows, row{what: fmt.Sprintf("  the CPU ceiling (any design, as above) with the batched peer record's CPU, node and holder, on %d cores", c.CPUs), raw: "—", gateway: cpu})
}

// connectCeiling is the most a clustered node's handshake rate can be of a single node's (single per
// second, singleCPU the machine's CPU per handshake: the node's and the load tool's) when each of its
// handshakes costs at least recordCPU more, on cpus cores. A record adds to the CPU a handshake costs
// but not necessarily to its time: a design sends it when the handshake starts, alongside the $connect
// call (as the raw cluster does), and one whose $connect takes longer than the raw node's hides more of
// it, so the raw cluster's loss of rate is no bound when latency bounds the rate (few clients). What
// bounds every design is the machine: at most cpus ÷ (singleCPU + recordCPU) handshakes per second,
// which matters only where the single node comes near it; a clustered node faster than the single one
// is not claimed. The CPU of processes not measured (the $connect backend, anything else running) is
// left out, which can only put the ceiling higher than it is.
func connectCeiling(cpus int, single float64, singleCPU, recordCPU time.Duration) float64 {
	most := float64(cpus) / (singleCPU + max(0, recordCPU)).Seconds()
	return min(1, most/single)
}

// ratio2 is a/b with two decimals, or "" when b is not positive.
func ratio2(a, b float64) string {
	if b <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2f", a/b)
}

// signedMs is d in milliseconds with its sign.
func signedMs(d time.Duration) string {
	if d < 0 {
		return "−" + ms(-d)
	}
	return "+" + ms(d)
}

// bridgeCeiling is the row under the raw Lambda bridge ÷ serverless-offline --useInProcess: whether the
// Go route's target is within reach on this machine at all. A bridge below the target's ratio means that
// no gateway driving the same function processes reaches it here.
func bridgeCeiling(bridge, sls *rttResult) []row {
	if sls.Rate <= 0 {
		return nil
	}
	ratio := bridge.Rate / sls.Rate
	verdict := fmt.Sprintf("within reach (the bridge does %.2f×)", ratio)
	if ratio < targetPeerRatio {
		verdict = fmt.Sprintf("out of reach here: the bridge itself does %.2f×", ratio)
	}
	return []row{{what: fmt.Sprintf("  ceiling of the Go route's ≥ %.1f× serverless-offline target on this machine", targetPeerRatio), raw: "—", gateway: verdict}}
}

// bridgeHandshakeRows are the raw Lambda bridge's handshakes without and with its $connect invocation
// ("raw" column: without), and Switchboard's ratio ÷ the bridge's when both were measured.
func bridgeHandshakeRows(res *results) []row {
	bp, bc := res.Handshakes["bridge-plain"], res.Handshakes["bridge-connect"]
	if bp == nil || bc == nil {
		return nil
	}
	r := row{what: "Handshakes/s, raw Lambda bridge (gws + go1.x RPC): $connect → function vs none", raw: count(bp.Rate), gateway: count(bc.Rate), ratio: "—"}
	lat := row{what: "  p50 / p99 / p99.9 handshake time", raw: lat3(bp.P50, bp.P99, bp.P999), gateway: lat3(bc.P50, bc.P99, bc.P999)}
	cpu := row{what: "  bridge CPU per handshake (+ function processes)", raw: us(bp.ServerCPUPerConn), gateway: us(bc.ServerCPUPerConn) + " + " + us(bc.HelperCPUPerConn)}
	client := row{what: "  load tool CPU per handshake (the client, same machine)", raw: us(bp.ClientCPUPerConn), gateway: us(bc.ClientCPUPerConn)}
	rows := []row{r, lat, cpu, client}
	if bp.Rate > 0 {
		ratio := bc.Rate / bp.Rate
		rows[0].ratio = fmt.Sprintf("%.2f", ratio)
		if plain, fn := res.Handshakes["plain"], res.Handshakes["function"]; plain != nil && fn != nil && plain.Rate > 0 && ratio > 0 {
			rows = append(rows, row{what: "  Switchboard's $connect ratio ÷ the bridge's", raw: "—",
				gateway: fmt.Sprintf("%.2f (%.2f vs %.2f)", fn.Rate/plain.Rate/ratio, fn.Rate/plain.Rate, ratio)})
		}
	}
	return rows
}

// postRows are one pair of @connections POST runs' rows (r, then latencies with the p99 target, then
// failures) and their target line; regime says which runs they are.
func postRows(rows []row, targets []target, r row, regime string, local, remote *postFigures) ([]row, []target) {
	ok := remote.P99 <= local.P99+targetRemoteP99Extra
	lat := row{what: "  p50 / p99 (" + regime + "), owner local / remote", raw: lat2(local.P50, local.P99), gateway: lat2(remote.P50, remote.P99),
		target: "remote p99 ≤ local + 1 ms", met: metText(ok)}
	other := row{what: "  non-200 / failed, local / remote", raw: fmt.Sprintf("%s / %d", statuses(local.Other), local.Errors),
		gateway: fmt.Sprintf("%s / %d", statuses(remote.Other), remote.Errors)}
	targets = append(targets, target{what: "cluster: remote-owner @connections p99 ≤ local p99 + 1 ms (" + regime + ")",
		value: fmt.Sprintf("%s vs %s", ms(remote.P99), ms(local.P99)), met: ok})
	return append(rows, r, lat, other), targets
}

func lat2(p50, p99 time.Duration) string { return ms(p50) + " / " + ms(p99) }

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// rssAt returns the i-th point of r, which was meant to be at n connections.
func rssAt(r *rssResult, i, n int) (rssPoint, bool) {
	if p, ok := r.at(n); ok {
		return p, true
	}
	if r == nil || i >= len(r.Points) {
		return rssPoint{}, false
	}
	return r.Points[i], true
}

func kib(p rssPoint) string { return fmt.Sprintf("%.2f KiB", p.KiBPerConn) }

func metText(met bool) string {
	if met {
		return "met"
	}
	return "not met"
}

// count formats n with thousands separators.
func count(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// latencies formats a round-trip scenario's p50 / p99 / p99.9.
func latencies(r *rttResult) string { return lat3(r.P50, r.P99, r.P999) }

func lat3(p50, p99, p999 time.Duration) string {
	return ms(p50) + " / " + ms(p99) + " / " + ms(p999)
}

// perMessage formats the CPU time per message of servers that used cpu+extra cores at rate messages/s.
func perMessage(cpu, extra, rate float64) string {
	if rate <= 0 {
		return "—"
	}
	if extra > 0 {
		return fmt.Sprintf("%.0f + %.0f µs", cpu/rate*1e6, extra/rate*1e6)
	}
	return fmt.Sprintf("%.0f µs", cpu/rate*1e6)
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func statuses(m map[int]int64) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d×%d", m[k], k))
	}
	return strings.Join(parts, ", ")
}

// memTotal is the machine's memory, from /proc/meminfo.
func memTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return fmt.Sprintf("%.1f GiB", float64(n)/(1<<20))
				}
			}
		}
	}
	return "?"
}
