// Package pipeline turns HCL station files into runnable profiles.
//
// It works in phases, as Packer's hcl2template does:
//
//  1. Load (load.go): one hclparse.Parser reads every file; it is kept so
//     diagnostics can render source snippets.
//  2. Decode (decode.go): station, variable, locals, source and profile
//     blocks are decoded with static values only. Every step block is
//     decoded in two parts: the meta-arguments every step accepts (StepMeta,
//     owned here) and the rest of its body into the kind's own struct, which
//     lives in package steps and is handed in through a Registry.
//  3. Compile (compile.go): each profile's steps are checked for order and
//     fused into stages: wipe, write (partition + mkfs + copy + label, which
//     the executor streams as one sequential plan), verify, eject.
//     Per-device expressions (labels) are type-checked with an unknown device
//     so a typo such as device.serail fails in CI, not when a stick arrives.
//  4. Run: for each stick, Config.DeviceContext makes a child evaluation
//     context holding the real device; only expressions are evaluated then.
//
// Package pipeline never imports package steps: the kinds are passed in by
// cmd/flashpipe (steps.Builtin()).
package pipeline
