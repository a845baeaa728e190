import { faultLoop } from './fault-loop.js';

faultLoop('delete with fold', 'persistent');
faultLoop('create then cleanup', 'persistent');
faultLoop('delete with fold', 'once');
faultLoop('create then cleanup', 'once');
