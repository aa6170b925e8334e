#pragma once
int probe_main(void);
