// The HTML page shell shared by report.html and compare.html: one
// self-contained document, inline CSS, no fonts, images or network. A page's
// own inline script (svg::script() on report.html) goes in its body.
#pragma once
#include <string>

namespace heapmark::report {

std::string html_page(const std::string& title, const std::string& body);

}  // namespace heapmark::report
