#include "copy_internal.h"
