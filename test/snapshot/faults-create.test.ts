import { faultLoop } from './fault-loop.js';

faultLoop('full create', 'persistent');
faultLoop('incremental create', 'persistent');
faultLoop('full create', 'once');
