#include "collector/web/html.h"

#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/names.h"
#include "common/time_util.h"

namespace syncwatch::collector::web {
namespace {

// One style sheet for every page. System fonts only: the page must work on
// an ops network with no internet access.
constexpr absl::string_view kStyle = R"css(
:root{--ok:#1a7f37;--ok-bg:#dafbe1;--warning:#9a6700;--warning-bg:#fff1c2;--critical:#cf222e;
--critical-bg:#ffebe9;--unknown:#57606a;--unknown-bg:#eaeef2;--running:#0969da;--running-bg:#ddf4ff;
--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--soft:#eaeef2;--bg:#f6f8fa;--card:#fff;--bar:40px}
*{box-sizing:border-box}
html{background:var(--bg)}
body{margin:0;color:var(--fg);font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,"Noto Sans",sans-serif}
a{color:#0969da;text-decoration:none}
a:hover{text-decoration:underline}
.top{position:sticky;top:0;z-index:20;height:var(--bar);display:flex;align-items:center;gap:14px;
padding:0 20px;background:#24292f;color:#fff}
.top a{color:#fff}
.brand{font-weight:700;font-size:15px;letter-spacing:.02em}
.brand .dot{display:inline-block;width:9px;height:9px;border-radius:50%;background:#2da44e;
margin-right:7px;vertical-align:1px}
.crumb{color:#d0d7de}
.crumb:before{content:"/";margin-right:12px;color:#6e7781}
.stamp{margin-left:auto;color:#afb8c1;font-size:12px}
main{padding:16px 20px 8px;max-width:1680px}
h1{font-size:20px;margin:4px 0 10px;display:flex;align-items:center;gap:10px;flex-wrap:wrap}
h2{font-size:15px;margin:26px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h2 .count{color:var(--muted);font-weight:400;font-size:13px;margin-left:6px}
h3{font-size:13px;margin:16px 0 6px}
p{margin:6px 0}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:4px 0 18px}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 14px;
min-width:112px}
.card .n{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums;line-height:1.25}
.card .l{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.05em}
.card .s{color:var(--muted);font-size:12px}
.card.ok{border-top:3px solid var(--ok)}.card.ok .n{color:var(--ok)}
.card.warning{border-top:3px solid #d4a72c}.card.warning .n{color:var(--warning)}
.card.critical{border-top:3px solid var(--critical)}.card.critical .n{color:var(--critical)}
.card.unknown{border-top:3px solid #8c959f}.card.unknown .n{color:var(--unknown)}
.card.zero .n{color:#8c959f}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:8px;margin:6px 0 8px}
.facts>div{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:7px 12px}
.facts .badge{white-space:normal}
.facts .l{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.05em}
.wrap{background:var(--card);border:1px solid var(--line);border-radius:6px}
.scroll{max-height:460px;overflow:auto;border-radius:6px}
.scroll th{top:0}
table{border-collapse:collapse;width:100%}
th,td{padding:5px 8px;text-align:left;vertical-align:top;border-bottom:1px solid var(--soft)}
th{position:sticky;top:var(--bar);z-index:5;background:#f6f8fa;color:var(--muted);font-size:11px;
font-weight:600;text-transform:uppercase;letter-spacing:.04em;vertical-align:bottom;
border-bottom:1px solid var(--line)}
tbody tr:last-child td{border-bottom:0}
tbody tr:hover td{background:#f6f8fa}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.nowrap{white-space:nowrap}
.mono{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace;
font-size:12px}
.dn{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;
word-break:break-all}
.muted{color:var(--muted)}
.ago{display:block;color:var(--muted);font-size:12px}
time{white-space:nowrap}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
white-space:nowrap;border:1px solid transparent}
.badge.ok{color:var(--ok);background:var(--ok-bg);border-color:#aceebb}
.badge.warning{color:var(--warning);background:var(--warning-bg);border-color:#f5d980}
.badge.critical{color:var(--critical);background:var(--critical-bg);border-color:#ffcecb}
.badge.unknown{color:var(--unknown);background:var(--unknown-bg);border-color:var(--line)}
.badge.running{color:var(--running);background:var(--running-bg);border-color:#b6e3ff}
h1 .badge{font-size:13px;padding:2px 10px}
.reasons{color:var(--muted);font-size:12px;margin-top:3px;min-width:150px;max-width:360px}
.reasons .clamp{display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;
overflow:hidden}
.reasons .also{display:block;font-style:italic}
ul.reasons{margin:0 0 8px;padding-left:18px;max-width:none;font-size:13px}
tr.h-ok td:first-child{box-shadow:inset 3px 0 var(--ok)}
tr.h-warning td:first-child{box-shadow:inset 3px 0 #d4a72c}
tr.h-critical td:first-child{box-shadow:inset 3px 0 var(--critical)}
tr.h-unknown td:first-child{box-shadow:inset 3px 0 #8c959f}
.server{font-weight:600;white-space:nowrap}
.role{display:inline-block;padding:0 6px;border-radius:4px;font-size:12px;background:var(--soft)}
.role.staging{background:#fbefff;color:#8250df}
.over{color:var(--critical);font-weight:700}
.crit{color:var(--critical);font-weight:600}
.zero{color:#8c959f}
.empty{padding:18px;color:var(--muted);background:var(--card);border:1px dashed var(--line);
border-radius:6px}
.note{color:var(--muted);font-size:12px;margin:6px 2px}
.more{padding:7px 10px;color:var(--muted);font-size:12px;border-top:1px solid var(--line)}
nav.sections{display:flex;gap:6px;flex-wrap:wrap;margin:8px 0 0}
nav.sections a{padding:3px 10px;border:1px solid var(--line);border-radius:14px;background:var(--card);
font-size:12px;color:var(--fg)}
nav.sections a:hover{text-decoration:none;border-color:#8c959f}
.lanes{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 12px;
margin-bottom:10px}
.lane{display:flex;align-items:center;gap:10px;padding:3px 0}
.lane .name{width:260px;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;
font-size:12px}
.blocks{display:flex;flex-wrap:wrap;gap:2px}
.blk{display:block;width:9px;height:18px;border-radius:2px;background:#8c959f}
.blk.ok{background:#2da44e}.blk.warning{background:#d4a72c}.blk.critical{background:var(--critical)}
.blk.running{background:#54aeff}
.blk:hover{outline:2px solid #24292f;outline-offset:1px}
.legend{display:flex;gap:14px;color:var(--muted);font-size:12px;margin-top:4px}
.legend .blk{display:inline-block;vertical-align:-4px;margin-right:4px;height:14px}
.chips{display:flex;gap:8px;flex-wrap:wrap;margin:4px 0 10px}
.chip{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:5px 10px}
.chip b{font-variant-numeric:tabular-nums;margin-right:4px}
ul.holders{margin:0;padding-left:16px}
ul.holders li{margin:1px 0}
footer{padding:14px 20px 24px;color:var(--muted);font-size:12px}
)css";

}  // namespace

std::string FormatDurationShort(absl::Duration d) {
  const int64_t s = absl::ToInt64Seconds(d);
  if (s < 60) return absl::StrCat(s, " s");
  const int64_t m = s / 60;
  if (m < 60) return absl::StrCat(m, " min");
  const int64_t h = m / 60;
  if (h < 48) return m % 60 == 0 ? absl::StrCat(h, " h") : absl::StrCat(h, " h ", m % 60, " min");
  return absl::StrCat(h / 24, " d");
}

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string UrlPathEscape(absl::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : segment) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string FormatAgo(absl::Time t, absl::Time now) {
  const absl::Duration d = now - t;
  if (d < absl::ZeroDuration()) return absl::StrCat("in ", FormatDurationShort(-d));
  if (d < absl::Seconds(5)) return "just now";
  return absl::StrCat(FormatDurationShort(d), " ago");
}

std::string FormatCount(int64_t n) {
  const uint64_t magnitude = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  const std::string digits = absl::StrCat(magnitude);
  std::string out = n < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

absl::string_view RunResultClass(absl::string_view result) {
  if (result == "success" || result == "completed-no-objects") return "ok";
  if (absl::StartsWith(result, "completed-")) return "warning";
  if (absl::StartsWith(result, "stopped-") || absl::StartsWith(result, "no-start-") ||
      result == "access-denied") {
    return "critical";
  }
  if (result == "in-progress" || absl::StartsWith(result, "completing-")) return "running";
  return "unknown";
}

std::string Badge(absl::string_view css_class, absl::string_view text, absl::string_view title) {
  return absl::StrCat("<span class=\"badge ", HtmlEscape(css_class), "\"",
                      title.empty() ? "" : absl::StrCat(" title=\"", HtmlEscape(title), "\""), ">",
                      HtmlEscape(text), "</span>");
}

std::string HealthBadge(const v1::ServerInfo& server) {
  return Badge(HealthName(server.health()), HealthName(server.health()),
               absl::StrJoin(server.health_reasons(), "\n"));
}

std::string TimeWithAgo(bool has, const google::protobuf::Timestamp& ts, absl::Time now,
                        absl::string_view never) {
  if (!has) return absl::StrCat("<span class=\"muted\">", HtmlEscape(never), "</span>");
  const absl::Time t = FromProtoTimestamp(ts);
  const std::string iso = FormatUtc(t);
  return absl::StrCat("<time datetime=\"", iso, "\">", iso, "</time><span class=\"ago\">",
                      FormatAgo(t, now), "</span>");
}

std::string Ago(bool has, const google::protobuf::Timestamp& ts, absl::Time now,
                absl::string_view never) {
  if (!has) return absl::StrCat("<span class=\"muted\">", HtmlEscape(never), "</span>");
  const absl::Time t = FromProtoTimestamp(ts);
  const std::string iso = FormatUtc(t);
  return absl::StrCat("<time datetime=\"", iso, "\" title=\"", iso, "\">", FormatAgo(t, now),
                      "</time>");
}

std::string PendingDeletesHtml(const v1::ServerInfo& server) {
  const std::string count = FormatCount(server.pending_deletes());
  if (!server.deletion_threshold_enabled()) {
    return absl::StrCat(
        "<span class=\"pending\" title=\"the export deletion threshold is disabled\">", count,
        " <span class=\"muted\">/ disabled</span></span>");
  }
  const bool over =
      server.deletion_threshold() > 0 && server.pending_deletes() > server.deletion_threshold();
  return absl::StrCat("<span class=\"pending", over ? " over" : "", "\" title=\"pending deletes",
                      over ? " exceed" : " against", " the export deletion threshold\">", count,
                      " / ", FormatCount(server.deletion_threshold()), "</span>");
}

std::string OpenAlertsHtml(const v1::ServerInfo& server) {
  if (server.open_alerts() == 0) return "<span class=\"zero\">0</span>";
  std::string out = absl::StrCat(server.open_alerts());
  if (server.open_critical_alerts() > 0) {
    absl::StrAppend(&out, " <span class=\"crit\">&middot; ", server.open_critical_alerts(),
                    " critical</span>");
  }
  return out;
}

std::string PageStart(const Frame& frame) {
  std::string out =
      absl::StrCat("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
                   // No icon: keeps the browser from asking for /favicon.ico.
                   "<link rel=\"icon\" href=\"data:,\">\n",
                   frame.refresh ? "<meta http-equiv=\"refresh\" content=\"30\">\n" : "", "<title>",
                   HtmlEscape(frame.title), " &middot; syncwatch</title>\n<style>", kStyle,
                   "</style>\n</head>\n<body>\n<header class=\"top\"><a class=\"brand\" href=\"",
                   frame.root.empty() ? "./" : HtmlEscape(frame.root),
                   "\"><span class=\"dot\"></span>syncwatch</a>");
  if (!frame.crumb.empty()) {
    absl::StrAppend(&out, "<span class=\"crumb\">", HtmlEscape(frame.crumb), "</span>");
  }
  absl::StrAppend(&out, "<span class=\"stamp\">", FormatUtc(frame.now),
                  "</span></header>\n<main>\n");
  return out;
}

std::string PageEnd(const Frame& frame) {
  std::string out = "</main>\n<footer>";
  if (frame.refresh) absl::StrAppend(&out, "Refreshes every 30 s. ");
  absl::StrAppend(&out, "Times are UTC.");
  if (!frame.json_href.empty()) {
    absl::StrAppend(&out, " This page as JSON: <a href=\"", HtmlEscape(frame.json_href), "\">",
                    HtmlEscape(frame.json_href), "</a>.");
  }
  absl::StrAppend(&out, "</footer>\n</body>\n</html>\n");
  return out;
}

}  // namespace syncwatch::collector::web
