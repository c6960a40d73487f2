import { removeTempDirs } from './temp-dir';

// Declared before the test file's own hooks, so it runs before its afterAll: the directories hold only inputs
// (configs, manifests, tarballs), which a process a test started no longer reads as it stops.
afterAll(removeTempDirs);
