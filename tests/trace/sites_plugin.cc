// The dlopen'ed C++ plugin of the symbolisation test (see sites_pie.c): its
// frames must come out demangled, plugin::make_widget(int).
#include <cstddef>

namespace plugin {
struct Widget {
  char data[300];
};
__attribute__((noinline)) Widget* make_widget(int n) { return new Widget[n]; }
}  // namespace plugin

extern "C" __attribute__((visibility("default"))) void* plugin_make_widget(size_t bytes) {
  return plugin::make_widget(static_cast<int>(bytes / sizeof(plugin::Widget)));
}
