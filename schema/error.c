/* error.c — ds_strerror() and ds_err_name(), generated from the table in ds_error.h. */
#include "ds_error.h"

const char *ds_strerror(int err) {
  switch (err) {
  case 0: return "success";
#define DS_ERR_MSG(name, code, msg) case code: return msg;
    DS_ERRNO_MAP(DS_ERR_MSG)
#undef DS_ERR_MSG
  }
  return "unknown error";
}

const char *ds_err_name(int err) {
  switch (err) {
  case 0: return "DS_OK";
#define DS_ERR_NAME(name, code, msg) case code: return "DS_E" #name;
    DS_ERRNO_MAP(DS_ERR_NAME)
#undef DS_ERR_NAME
  }
  return "DS_E?";
}
