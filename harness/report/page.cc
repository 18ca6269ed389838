// The shared HTML page shell (see page.h).
#include "harness/report/page.h"

#include "harness/report/table.h"

namespace heapmark::report {

std::string html_page(const std::string& title, const std::string& body) {
  static const char* const kCss = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;margin:0 auto;max-width:1220px;padding:0 18px 40px}
h1{font-size:24px;margin:18px 0 6px}h2{font-size:20px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:30px}
h3{font-size:16px;margin:22px 0 4px}p.note,.note{color:#57606a;font-size:13px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}th,td{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top}
thead th{background:#f6f8fa;text-align:center}td{text-align:right;white-space:nowrap}
table.context td,table.allocators td,table.failed td{text-align:left;white-space:normal}
table.context th,table.allocators th,table.failed th{text-align:left}
table.compare td:nth-child(2),table.compare td:nth-child(3){text-align:left}
small{color:#444}.noisy{outline:1px dashed #9a6700;outline-offset:-3px}.mark{color:#9a6700;font-weight:bold;margin-left:3px}
nav a{margin-right:12px}.charts{display:flex;flex-wrap:wrap;gap:8px}
.grid{display:flex;flex-wrap:wrap;gap:0 22px;align-items:flex-start}.grid .fig{max-width:100%;overflow-x:auto}
.grid h3{margin-top:10px}.grid p.note{max-width:360px;margin:2px 0}
svg.chart{max-width:100%;height:auto;background:#fff;border:1px solid #eaeef2;margin:6px 0}
svg.chart text{font:12px system-ui,sans-serif;fill:#1b1f24}svg.chart .ctitle{font-size:14px;font-weight:600}
svg.chart .tick{fill:#57606a;font-size:11px}svg.chart .alabel{font-size:12px}svg.chart .glabel{font-size:12px;font-weight:600}
svg.chart .blabel{fill:#57606a;font-size:10px}svg.chart .grid{stroke:#eaeef2}svg.chart .axis{stroke:#57606a}
svg.chart .band{fill:#dde4ee;opacity:.55}svg.chart .band.odd{fill:#f3f6fa}
svg.chart .key[role=button]{cursor:pointer}svg.chart .key.off{opacity:.35}.axis-switch{display:block;font-size:13px;margin-top:6px}
.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:600}
table.repro td:last-child{text-align:left;white-space:normal;min-width:260px;max-width:520px}
table.verdicts td{text-align:center;white-space:normal;min-width:72px}table.verdicts td a{color:inherit}
.v-returned{background:#c9efd2}.v-lazy{background:#e3f4c6}.v-retained-until-activity{background:#fbeeb8}
.v-retained-until-release{background:#fbd3a8}.v-fragmentation,.v-not-returned{background:#f6b8b8}
.v-split{background:repeating-linear-gradient(135deg,#eee,#eee 6px,#fff 6px,#fff 12px)}.v-unknown{background:#eee}
)";
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         html_escape(title) + "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n" + body + "</body>\n</html>\n";
}

}  // namespace heapmark::report
