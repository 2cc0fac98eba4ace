# /etc/flashpipe/station.hcl — the station's settings. flashpipe.service
# runs `flashpipe run /etc/flashpipe`: every *.hcl file in this directory,
# so put each profile in a file of its own beside this one.
#
# Until a profile exists the service does not start (it says "the station
# files hold no profile"). To begin, copy an example and edit it:
#
#   cp /usr/share/doc/flashpipe/examples/station.hcl /etc/flashpipe/kiosk.hcl
#   flashpipe validate /etc/flashpipe        # check every file
#   flashpipe plan /etc/flashpipe            # what each profile will do
#   systemctl enable --now flashpipe
#   systemctl reload flashpipe               # after each edit (also noticed
#                                            # on its own within 2 s)
#
# The profile language: man flashpipe, /usr/share/doc/flashpipe/config.md.
# Running the service: /usr/share/doc/flashpipe/operator.md.

station {
  # The name in receipts, logs, the dashboard and the metrics' station label.
  # name = "hall-a"

  # Sticks written at once; more than the USB bus can feed only slows each.
  # concurrency = 4

  # Buses a stick may be on. usb only, so an internal disk is never taken.
  allow_buses = ["usb"]

  # The service passes --receipts /var/lib/flashpipe/receipts.jsonl, which
  # wins over this; a station started by hand uses it.
  receipts = "/var/lib/flashpipe/receipts.jsonl"

  # Dashboard, JSON API and Prometheus /metrics. Off loopback it needs a
  # token: token = var.dashboard_token, with FLASHPIPE_VAR_dashboard_token
  # set in /etc/flashpipe/env (mode 0600).
  # listen = "127.0.0.1:8080"

  # On systemctl stop, how long running jobs may finish.
  # grace = "2m"
}

# A profile, for example (see the examples for more):
#
# source "content" {
#   paths = ["/srv/flashpipe/content"]
# }
#
# profile "any" {
#   match {}
#   step "wipe" { mode = "quick" }
#   step "partition" { table = "mbr" }
#   step "mkfs" { type = "vfat" }
#   step "copy" { sources = [source.content] }
#   step "verify" {}
#   step "eject" {}
# }
